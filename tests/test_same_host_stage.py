"""Who stages by writing the stage's folder and who uploads over HTTP: the server's answer to a PUT,
as the connector reads it, and the rule behind it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import connect_with
from tcp_proxy import FROM_HOST, TcpProxy

import snowload_nb as sl
from snowload_nb.same_host_stage import writes_in_place

HERE = ("127.0.0.1", 40000)
SERVER = ("127.0.0.1", 8080)
CONNECTOR_4 = "PythonConnector/4.8.1 (Linux-6.18-x86_64-with-glibc2.36) CPython/3.11.7"
CONNECTOR_5 = "PythonConnector/5.2.0 (linux-x86_64) CPython/3.11.7"


@pytest.mark.parametrize(
    ("client", "agent", "in_place"),
    [
        (HERE, CONNECTOR_4, True),
        (HERE, "PythonConnector/3.14.0 (Darwin) CPython/3.9.1", True),
        (HERE, CONNECTOR_5, False),  # its core uploads only to cloud storage
        (HERE, "PythonConnector/10.0.0 (linux-x86_64) CPython/3.13.0", False),
        (HERE, "JDBC/3.19.0 (Linux 6.1) JAVA/17.0.9", False),
        (HERE, "", False),
        ((FROM_HOST, 40000), CONNECTOR_4, False),  # a proxy's address: another host
        (("172.17.0.1", 40000), CONNECTOR_4, False),  # a container's bridge
        (None, CONNECTOR_4, False),
    ],
)
def test_only_a_python_connector_before_5_at_the_servers_own_address_writes_in_place(client, agent, in_place):
    assert writes_in_place(client, SERVER, agent) is in_place


def put_answer(conn, path: Path) -> dict:
    """What the server answers a PUT with, before the connector acts on it."""
    conn.cursor().execute("CREATE STAGE IF NOT EXISTS SAME_HOST")
    answer = conn.cmd_query(f"PUT 'file://{path}' @SAME_HOST/here/", 0, uuid.uuid4())
    assert answer["success"], answer
    return answer["data"]["stageInfo"]


def test_a_put_from_this_machine_names_the_stage_folder_and_a_put_through_a_proxy_an_upload(server, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("id\n1\n")
    direct = sl.connect_local()
    proxy = TcpProxy(server.port).start()
    elsewhere = connect_with({**server.connect_kwargs(), "port": proxy.port})
    try:
        here, there = put_answer(direct, path), put_answer(elsewhere, path)
    finally:
        elsewhere.close()
        proxy.stop()
        direct.close()
    assert here["locationType"] == "LOCAL_FS"
    assert here["location"].rstrip("/").endswith("SAME_HOST/here")
    assert there["locationType"] == "GCS"  # a presigned URL on the server: the bytes cross the proxy
