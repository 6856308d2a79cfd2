// Reads snowload_nb widgets off the rendered JupyterLab page, and records what they showed while
// cells ran. Evaluated once per page by e2e/lab.py; everything it reports comes from the DOM that
// ipywidgets drew, not from the kernel.
(() => {
  if (window.__snowloadProbe) {
    return;
  }

  const notebook = () => window.jupyterapp.shell.currentWidget;
  const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : '');
  const visible = (el) => getComputedStyle(el).display !== 'none';

  // The live widget is a VBox of: header HBox (header, Cancel), the activity label, three
  // aggregate HBoxes (label, bar, detail), a VBox of file rows, the "… and K more" and waiting
  // labels, and the finished-files HTML (see snowload_nb/views/widget.py). When the load ends the
  // output becomes the static record (.snowload-record, see snowload_nb/views/html.py).
  const AGGREGATES = [2, 3, 4];
  function isSnowload(root) {
    const kids = root.children;
    return (
      kids.length === 9 &&
      kids[0].querySelector('.widget-button') !== null &&
      AGGREGATES.every((i) => kids[i].querySelector(':scope > .widget-hprogress .progress-bar') !== null) &&
      kids[5].classList.contains('widget-vbox')
    );
  }

  // A view being built may not have its inner parts yet: report what is there.
  function bar(el) {
    const inner = el ? el.querySelector('.progress-bar') : null;
    return inner ? { width: inner.style.width, classes: Array.from(inner.classList) } : { width: null, classes: [] };
  }

  function table(el) {
    const scroll = el.querySelector('.widget-html-content > div') || el;
    const title = scroll ? text(scroll.querySelector(':scope > div')) : '';
    const rows = Array.from(el.querySelectorAll('tbody tr')).map((tr) => {
      const td = tr.querySelectorAll('td');
      return {
        file: text(td[0]),
        status: text(td[1]),
        rows: text(td[2]),
        seconds: text(td[3]),
        error: text(td[4]),
      };
    });
    return { title, rows };
  }

  function stateOf(header) {
    const parts = header.split('·').map((s) => s.trim());
    return parts[parts.length - 1];
  }

  function describe(root, cell, slot) {
    if (root.classList.contains('snowload-record')) {
      return describeRecord(root, cell, slot);
    }
    const kids = root.children;
    const header = text(kids[0].querySelector('.widget-html-content'));
    const button = kids[0].querySelector('.widget-button');
    const cellsOf = (row) => Array.from({ length: 4 }, (_, i) => row.children[i] || null);
    return {
      kind: 'widget',
      cell,
      slot,
      header,
      state: stateOf(header),
      activity: text(kids[1]),
      cancelShown: button ? visible(button) : false,
      bars: AGGREGATES.map((i) => ({
        label: text(kids[i].children[0]),
        ...bar(kids[i].children[1]),
        detail: text(kids[i].children[2]),
      })),
      rowSlots: kids[5].children.length,
      rows: Array.from(kids[5].children)
        .filter(visible)
        .map(cellsOf)
        .map(([name, phase, progress, detail]) => ({
          name: text(name),
          phase: text(phase),
          ...bar(progress),
          detail: text(detail),
        })),
      more: text(kids[6]),
      waiting: text(kids[7]),
      table: table(kids[8]),
      summary: '',
    };
  }

  // The record's bars carry their state as a class (snowload-success, -danger, -warning), here
  // reported as the widget's bootstrap class names so the same checks read both.
  function describeRecord(root, cell, slot) {
    const header = text(root.querySelector('.snowload-header'));
    const tableHolder = root.querySelector('table') ? root.querySelector('table').parentElement : root;
    return {
      kind: 'record',
      cell,
      slot,
      header,
      state: stateOf(header),
      activity: '',
      cancelShown: false,
      bars: Array.from(root.querySelectorAll('.snowload-phase')).map((line) => {
        const fill = line.querySelector('.snowload-fill');
        const style = fill ? Array.from(fill.classList).find((c) => c.startsWith('snowload-') && c !== 'snowload-fill') : '';
        return {
          label: text(line.querySelector('.snowload-label')),
          width: fill ? fill.style.width : null,
          classes: style ? [`progress-bar-${style.replace('snowload-', '')}`] : [],
          detail: text(line.querySelector('.snowload-detail')),
        };
      }),
      rowSlots: 0,
      rows: [],
      more: '',
      waiting: '',
      table: table(tableHolder),
      summary: text(root.querySelector('.snowload-summary')),
      timelineRows: root.querySelectorAll('svg g.file').length,
    };
  }

  function roots() {
    const found = [];
    notebook().content.widgets.forEach((cell, index) => {
      const candidates = cell.node.querySelectorAll('.jp-OutputArea-output > .widget-vbox, .snowload-record');
      Array.from(candidates)
        .filter((el) => el.classList.contains('snowload-record') || isSnowload(el))
        .forEach((root, slot) => found.push({ root, cell: index, slot }));
    });
    return found;
  }

  function widgets() {
    return roots().map(({ root, cell, slot }) => describe(root, cell, slot));
  }

  function widgetElement(cell, slot) {
    const hit = roots().find((r) => r.cell === cell && r.slot === slot);
    return hit ? hit.root : null;
  }

  // Every batch of DOM changes is one sample: the observer sees each state the page went through,
  // however briefly, which a poll from Python could miss. Each animation frame is a sample too:
  // that is what was actually painted. A file row is a visible row with a file name; a visible
  // row without one (a slot drawn before its display:none arrived) is counted apart, as "blank".
  const stats = { mutations: 0, frames: 0, byKey: {}, errors: [] };

  function record(source) {
    try {
      sample(source);
    } catch (err) {
      // Kept, not thrown: an exception here would be an uncaught page error, which the tests
      // reserve for JupyterLab and the widgets themselves.
      if (stats.errors.length < 20) {
        stats.errors.push(String(err && err.stack ? err.stack : err));
      }
    }
  }

  const addTo = (list, value) => {
    if (!list.includes(value)) {
      list.push(value);
    }
  };

  function sample(source) {
    stats[source] += 1;
    for (const w of widgets()) {
      const key = `${w.cell}:${w.slot}`;
      const r = (stats.byKey[key] ??= {
        cell: w.cell,
        slot: w.slot,
        samples: 0,
        runningSamples: 0,
        runningSamplesWithRows: 0,
        runningFramesWithRows: 0,
        maxRows: 0,
        maxRowSlots: 0,
        maxBlankRows: 0,
        framesWithBlankRows: 0,
        duplicateNames: [],
        states: [],
        names: [],
        phases: [],
      });
      const named = w.rows.filter((row) => row.name !== '');
      const blank = w.rows.length - named.length;
      r.samples += 1;
      if (w.state === 'running' && named.length > 0) {
        r.runningSamplesWithRows += 1;
        if (source === 'frames') {
          r.runningFramesWithRows += 1;
        }
      }
      if (w.state === 'running') {
        r.runningSamples += 1;
      }
      r.maxRows = Math.max(r.maxRows, named.length);
      r.maxBlankRows = Math.max(r.maxBlankRows, blank);
      if (blank > 0 && source === 'frames') {
        r.framesWithBlankRows += 1;
      }
      r.maxRowSlots = Math.max(r.maxRowSlots, w.rowSlots);
      addTo(r.states, w.state);
      const names = named.map((row) => row.name);
      for (const [i, name] of names.entries()) {
        if (names.indexOf(name) !== i) {
          addTo(r.duplicateNames, name);
        }
        addTo(r.names, name);
      }
      for (const row of named) {
        addTo(r.phases, row.phase);
      }
    }
  }

  const observer = new MutationObserver(() => record('mutations'));
  observer.observe(notebook().content.node, {
    subtree: true,
    childList: true,
    attributes: true,
    characterData: true,
  });
  // A picture of a load in progress cannot wait for a screenshot round trip from Python: a small
  // load shows its file rows for a few hundred milliseconds. So the frame in which the widget of
  // `freezer.cell` first shows `freezer.rows` file rows is copied, as it is about to be painted,
  // into a fixed overlay outside the notebook (the observer does not see it); Python then takes
  // the screenshot of that copy at leisure and removes it.
  const freezer = { cell: null, rows: 0, frozen: null };

  function armFreeze(cell, rows) {
    Object.assign(freezer, { cell, rows, frozen: null });
  }

  function freezeIfDue() {
    if (freezer.cell === null) {
      return;
    }
    const hit = roots().find((r) => r.cell === freezer.cell);
    if (!hit) {
      return;
    }
    const seen = describe(hit.root, hit.cell, hit.slot);
    const named = seen.rows.filter((row) => row.name !== '');
    if (seen.state !== 'running' || named.length < freezer.rows) {
      return;
    }
    const rect = hit.root.getBoundingClientRect();
    const holder = document.createElement('div');
    holder.id = 'snowload-frozen';
    holder.className = 'jp-OutputArea-output';
    holder.style.cssText =
      `position:fixed;left:0;top:0;width:${rect.width}px;z-index:100000;` +
      'background:var(--jp-layout-color0, white)';
    holder.appendChild(hit.root.cloneNode(true));
    document.body.appendChild(holder);
    freezer.frozen = seen;
    freezer.cell = null;
  }

  function unfreeze() {
    document.getElementById('snowload-frozen')?.remove();
  }

  const onFrame = () => {
    record('frames');
    try {
      freezeIfDue();
    } catch (err) {
      stats.errors.push(String(err && err.stack ? err.stack : err));
    }
    requestAnimationFrame(onFrame);
  };
  requestAnimationFrame(onFrame);

  const run = { started: false, done: false, ok: null, error: null };

  function runAll() {
    run.started = true;
    window.jupyterapp.commands.execute('notebook:run-all-cells').then(
      (ok) => {
        run.ok = ok;
        run.done = true;
      },
      (err) => {
        run.error = String(err);
        run.done = true;
      },
    );
  }

  function codeCells() {
    return notebook().content.widgets.filter((c) => c.model.type === 'code');
  }

  function prompts() {
    return codeCells().map((c) => text(c.node.querySelector('.jp-InputPrompt')));
  }

  function kernelStatus() {
    const kernel = notebook().sessionContext.session?.kernel;
    return kernel ? kernel.status : 'none';
  }

  // Finished: the run-all promise settled, the kernel is idle and every prompt shows a number.
  function finished() {
    return run.done && kernelStatus() === 'idle' && prompts().every((p) => /^\[\d+\]:$/.test(p));
  }

  function problems() {
    const all = text(notebook().content.node);
    return ['Error displaying widget', 'Loading widget'].filter((s) => all.includes(s));
  }

  function cells() {
    return notebook().content.widgets.map((c, index) => ({
      index,
      type: c.model.type,
      source: c.model.sharedModel.getSource(),
      outputs: c.model.type === 'code' ? c.model.outputs.toJSON() : [],
      outputText: text(c.node.querySelector('.jp-Cell-outputArea')),
    }));
  }

  window.__snowloadProbe = {
    widgets,
    widgetElement,
    armFreeze,
    frozen: () => freezer.frozen,
    unfreeze,
    stats: () => stats,
    record,
    run: () => run,
    runAll,
    prompts,
    kernelStatus,
    finished,
    problems,
    cells,
  };
})();
