function (root, data) {
  // The step-through of one backward pass (autograd.viz.step_through). `root` is this output's
  // element; `data` the recorded steps (page.py). Everything here stays inside `root`: no global
  // names, no network, no storage. Frames of the backward view: 0 = the seed, k = after the
  // backward of op k, last = the gradients stored in .grad. The forward view replays the ops in
  // the order they ran, showing the values they made.
  "use strict";
  var graph = root.querySelector(".ag-graph");
  var svg = graph.querySelector("svg");
  var note = root.querySelector(".ag-nojs");
  if (note) note.parentNode.removeChild(note);

  var steps = data.steps;
  var forward = data.forward;
  var lastFrame = { backward: steps.length + 1, forward: forward.length };
  var mode = "backward";
  var frame = 0;
  var timer = null;

  // ----- the picture's elements, found by the data-id that page.py gave them -----
  var elements = {};
  var tagged = svg.querySelectorAll("[data-id]");
  for (var i = 0; i < tagged.length; i++) {
    elements[tagged[i].getAttribute("data-id")] = tagged[i];
  }
  function Shape(element) {  // a node or edge of the picture, with the classes it shows
    this.element = element;
    this.id = element.getAttribute("data-id");
    this.base = element.getAttribute("class") || "";
    this.shown = "";
  }
  Shape.prototype.show = function (extra) {
    if (extra !== this.shown) {
      this.shown = extra;
      this.element.setAttribute("class", extra ? this.base + " " + extra : this.base);
    }
  };

  var tensors = [];  // one per tensor: its drawn copies, their gradient lines, its events
  var tensorByKey = {};
  Object.keys(data.tensors).forEach(function (key) {
    var spec = data.tensors[key];
    var tensor = { key: key, shapes: [], lines: [], events: spec.events, text: null };
    spec.nodes.forEach(function (id) {
      if (!elements[id]) return;
      tensor.shapes.push(new Shape(elements[id]));
      var line = elements[id].querySelector("text.ag-grad");
      if (line) tensor.lines.push(line);
    });
    tensors.push(tensor);
    tensorByKey[key] = tensor;
  });

  var opShapes = {};  // op (or collapsed module) id -> Shape
  var firstRun = {};  // op id -> the first frame at which it runs backward
  var forwardIndex = {};  // op id -> its place in the forward pass (1 = first)
  var madeAt = {};  // tensor key -> the forward frame that made it (0: a leaf or constant)
  steps.forEach(function (step, index) {
    if (!(step.op in firstRun)) firstRun[step.op] = index + 1;
  });
  forward.forEach(function (op, index) {
    if (elements[op.op] && !opShapes[op.op]) opShapes[op.op] = new Shape(elements[op.op]);
    if (!(op.op in forwardIndex)) forwardIndex[op.op] = index + 1;
    op.outputs.forEach(function (output) { madeAt[output[0]] = index + 1; });
  });
  var opIds = Object.keys(opShapes);

  var edgeShapes = {};
  var highlighted = [];  // edges lit at the current frame
  function lightEdges(ids, extra) {
    ids.forEach(function (id) {
      if (!elements[id]) return;
      var shape = edgeShapes[id] || (edgeShapes[id] = new Shape(elements[id]));
      shape.show(extra);
      highlighted.push(shape);
    });
  }

  // ----- what the picture shows at a frame -----
  function gradientAt(tensor, at) {  // the last event at or before frame `at`, or null
    var events = tensor.events, low = 0, high = events.length - 1, found = null;
    while (low <= high) {
      var middle = (low + high) >> 1;
      if (events[middle][0] <= at) { found = events[middle]; low = middle + 1; }
      else high = middle - 1;
    }
    return found;
  }

  function setLine(tensor, text) {
    if (text === tensor.text) return;
    tensor.text = text;
    for (var j = 0; j < tensor.lines.length; j++) tensor.lines[j].textContent = text;
  }

  function drawBackward() {
    var step = frame >= 1 && frame <= steps.length ? steps[frame - 1] : null;
    var lit = {};  // drawn tensor id -> its highlight at this frame
    if (step) {
      step.arriving.forEach(function (id) { lit[id] = " ag-arriving"; });
      step.receiving.forEach(function (id) { lit[id] = " ag-receiving"; });
    } else if (frame === 0 && data.seed.tensor) {
      lit[data.tensors[data.seed.tensor].nodes[0]] = " ag-arriving";
    }
    tensors.forEach(function (tensor) {
      var event = gradientAt(tensor, frame), extra;
      if (event === null) {
        extra = "ag-faded ag-unreached";
        setLine(tensor, "not reached");
      } else {
        extra = event[2] ? "" : "ag-partial";
        setLine(tensor, event[1]);
      }
      tensor.shapes.forEach(function (shape) {
        shape.show(lit[shape.id] ? (extra + lit[shape.id]).trim() : extra);
      });
    });
    opIds.forEach(function (id) {
      var first = firstRun[id], extra;
      if (step && step.op === id) extra = "ag-now";
      else if (first !== undefined && first < frame) extra = "";
      else extra = frame === lastFrame.backward ? "ag-faded" : "ag-waiting";
      opShapes[id].show(extra);
    });
    if (step) {
      lightEdges(step.edgesIn, "ag-sent");
      lightEdges(step.edgesOut, "ag-arrived");
    }
    return step ? elements[step.op] : null;
  }

  function drawForward() {
    var current = frame >= 1 ? forward[frame - 1] : null;
    tensors.forEach(function (tensor) {
      setLine(tensor, "");
      var made = madeAt[tensor.key] || 0;
      var extra = made > frame ? "ag-faded" : "";
      if (current && made === frame) extra += " ag-arriving";
      tensor.shapes.forEach(function (shape) { shape.show(extra.trim()); });
    });
    opIds.forEach(function (id) {
      var index = forwardIndex[id];
      opShapes[id].show(current && current.op === id ? "ag-now" : index < frame ? "" : "ag-waiting");
    });
    return current ? elements[current.op] : null;
  }

  // ----- the panel -----
  function make(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function card(shown, role) {  // an array: in full when small, else summary and heatmap
    var box = make("div", "ag-card" + (role ? " ag-" + role : ""));
    box.appendChild(make("div", "ag-card-head", shown.shape + " " + shown.dtype));
    if (shown.text !== undefined) {
      box.appendChild(make("pre", "ag-values", shown.text));
      return box;
    }
    var stats = make("div", "ag-stats");
    stats.appendChild(document.createTextNode(
      shown.norm === undefined ? "no finite values" :
        "norm " + shown.norm + "  min " + shown.min + "  max " + shown.max));
    if (shown.nan || shown.inf) {
      stats.appendChild(document.createTextNode("  "));
      var counts = [];
      if (shown.nan) counts.push(shown.nan + " NaN");
      if (shown.inf) counts.push(shown.inf + " inf");
      stats.appendChild(make("span", "ag-bad", counts.join(", ")));
    }
    box.appendChild(stats);
    box.appendChild(heatmap(shown.heat));
    box.appendChild(make("div", "ag-card-head",
      "block means: blue −" + shown.heat.scale + ", white 0, red +" + shown.heat.scale));
    return box;
  }

  var LEVELS = "0123456789ABCDEFGHI";
  function heatmap(heat) {  // blue below zero, white at zero, red above; black: NaN or inf
    var canvas = make("canvas", "ag-heat");
    canvas.width = heat.columns;
    canvas.height = heat.rows;
    var cell = Math.max(4, Math.min(12, Math.floor(160 / Math.max(heat.columns, heat.rows))));
    canvas.style.width = heat.columns * cell + "px";
    canvas.style.height = heat.rows * cell + "px";
    canvas.title = "block means, from -" + heat.scale + " (blue) to +" + heat.scale + " (red)";
    var context = canvas.getContext && canvas.getContext("2d");
    if (!context) return canvas;
    var image = context.createImageData(heat.columns, heat.rows);
    for (var k = 0; k < heat.cells.length; k++) {
      var level = LEVELS.indexOf(heat.cells.charAt(k)) - 9, r = 0, g = 0, b = 0;
      if (level >= -9) {
        var fade = Math.round(255 * (1 - Math.abs(level) / 9));
        r = level < 0 ? fade : 255;
        g = fade;
        b = level > 0 ? fade : 255;
      }
      image.data[4 * k] = r;
      image.data[4 * k + 1] = g;
      image.data[4 * k + 2] = b;
      image.data[4 * k + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    return canvas;
  }

  function who(label, operand, parameter) {
    var line = make("div", "ag-who");
    line.appendChild(document.createTextNode(label));
    if (operand || parameter) {
      var parts = [];
      if (operand) parts.push(operand);
      if (parameter) parts.push(parameter + " in the formula");
      line.appendChild(make("span", "ag-operand", "  (" + parts.join(", ") + ")"));
    }
    return line;
  }

  function panelBackward(panel) {
    var count = steps.length;
    if (frame === 0) {
      panel.appendChild(make("h3", "", "Start: the seed"));
      panel.appendChild(make("p", "ag-note",
        "The backward pass starts at the loss with dL/dL = 1 (ones of its shape, or the " +
        "gradient given to backward). Press next (or →) to run the first op's backward."));
      var seed = make("div", "ag-arrived");
      seed.appendChild(card(data.seed.card));
      panel.appendChild(seed);
      return;
    }
    if (frame === lastFrame.backward) {
      panel.appendChild(make("h3", "", "Done: each leaf's gradient is stored in .grad"));
      data.leaves.forEach(function (leaf) {
        var box = make("div", "ag-leaf");
        box.setAttribute("data-label", leaf.label);
        box.appendChild(who(leaf.label + ".grad"));
        if (leaf.card) box.appendChild(card(leaf.card));
        else box.appendChild(make("p", "ag-note", "None: no gradient reached it."));
        if (leaf.earlier) {
          box.appendChild(make("p", "ag-note",
            "This includes the .grad it held from an earlier backward (gradients accumulate " +
            "until zero_grad()), which was:"));
          box.appendChild(card(leaf.earlier));
        }
        panel.appendChild(box);
      });
      panel.appendChild(make("p", "ag-note",
        "The gradients of intermediate tensors were freed as the pass went on; retain_grad() " +
        "(or backward(retain_grads=True)) keeps them."));
      return;
    }
    var step = steps[frame - 1];
    var title = "Step " + frame + " of " + count + ": " + step.name;
    if (step.number !== frame) title += " (backward step " + step.number + ")";
    panel.appendChild(make("h3", "", title));
    panel.appendChild(make("div", "ag-formula", step.formula));
    panel.appendChild(make("h4", "",
      step.arrived.length > 1 ? "Gradients arrived at its outputs" : "Gradient arrived at its output"));
    step.arrived.forEach(function (arrived) {
      var box = make("div", "ag-arrived");
      box.appendChild(who(arrived.label));
      box.appendChild(card(arrived.card));
      panel.appendChild(box);
    });
    panel.appendChild(make("h4", "", "Sent to its inputs: the arrived gradient times the local derivative"));
    step.sent.forEach(function (sent) {
      var box = make("div", "ag-sent");
      box.setAttribute("data-label", sent.label);
      box.appendChild(who(sent.label, sent.operand, sent.parameter));
      if (!sent.gradient) {
        box.appendChild(make("p", "ag-note", sent.none));
      } else if (!sent.before) {
        box.appendChild(card(sent.gradient, "contribution"));
        box.appendChild(make("p", "ag-note", "The first gradient to reach " + sent.label + "."));
      } else {
        var row = make("div", "ag-row");
        row.appendChild(card(sent.before, "before"));
        row.appendChild(make("span", "ag-sign", "+"));
        row.appendChild(card(sent.gradient, "contribution"));
        row.appendChild(make("span", "ag-sign", "="));
        row.appendChild(card(sent.after, "after"));
        box.appendChild(row);
        box.appendChild(make("p", "ag-note",
          sent.label + " is used more than once: each use sends a gradient, and they add up " +
          "(before + contribution = after)."));
      }
      panel.appendChild(box);
    });
  }

  function panelForward(panel) {
    if (frame === 0) {
      panel.appendChild(make("h3", "", "Forward pass: the leaves and constants"));
      panel.appendChild(make("p", "ag-note",
        "Each op runs once its inputs exist, in the order the program ran them. Press next " +
        "(or →) to run the first op."));
      return;
    }
    var op = forward[frame - 1];
    panel.appendChild(make("h3", "", "Forward step " + frame + " of " + forward.length + ": " + op.name));
    var step = null;
    for (var k = 0; k < steps.length; k++) if (steps[k].op === op.op) { step = steps[k]; break; }
    if (step) panel.appendChild(make("div", "ag-formula", step.formula));
    panel.appendChild(make("h4", "", "Its inputs"));
    op.inputs.forEach(function (input) {
      var box = make("div", "ag-input");
      box.appendChild(who(input[1]));
      if (data.values[input[0]]) box.appendChild(card(data.values[input[0]]));
      panel.appendChild(box);
    });
    panel.appendChild(make("h4", "", op.outputs.length > 1 ? "Its outputs" : "Its output"));
    op.outputs.forEach(function (output) {
      var box = make("div", "ag-output");
      box.appendChild(who(output[1]));
      if (data.values[output[0]]) box.appendChild(card(data.values[output[0]]));
      panel.appendChild(box);
    });
    panel.appendChild(make("p", "ag-note",
      "Backward visits this op at step " + op.number + " (ops run backward in reverse order)."));
  }

  // ----- controls -----
  var bar = make("div", "ag-bar");
  function button(action, text, label) {
    var element = make("button", "", text);
    element.type = "button";
    element.setAttribute("data-action", action);
    element.setAttribute("aria-label", label);
    element.title = label;
    bar.appendChild(element);
    return element;
  }
  var modes = {
    backward: button("backward", "backward", "Step through the backward pass"),
    forward: button("forward", "forward", "Step through the forward pass"),
  };
  button("first", "⏮", "First step (Home)");
  button("prev", "◀ prev", "Previous step (←)");
  var play = button("play", "▶ play", "Play or pause (space)");
  button("next", "next ▶", "Next step (→)");
  button("last", "⏭", "Last step (End)");
  var slider = make("input");
  slider.type = "range";
  slider.min = "0";
  slider.step = "1";
  slider.setAttribute("aria-label", "Step");
  bar.appendChild(slider);
  var position = make("span", "ag-position");
  bar.appendChild(position);
  button("smaller", "−", "Zoom the picture out");
  button("larger", "+", "Zoom the picture in");
  button("fit", "fit", "Fit the picture to its frame");

  var main = make("div", "ag-main");
  var panel = make("div", "ag-panel");
  root.insertBefore(bar, graph);
  root.insertBefore(main, graph);
  main.appendChild(graph);
  main.appendChild(panel);
  function legendOf(entries) {  // colour swatches and their meaning, under the picture
    var legend = make("div", "ag-legend");
    entries.forEach(function (entry) {
      var item = make("span");
      if (entry[0]) {
        var swatch = make("span", "ag-swatch");
        swatch.style.borderColor = entry[0];
        item.appendChild(swatch);
      }
      item.appendChild(document.createTextNode(entry[1]));
      legend.appendChild(item);
    });
    root.appendChild(legend);
    return legend;
  }
  var legends = {
    backward: legendOf([
      ["#dc2626", "op running now, and the gradients it sends to its inputs"],
      ["#2563eb", "the gradient that arrived at its output"],
      [null, "faded: not reached yet"],
      [null, "orange grad: more uses still to send theirs"],
    ]),
    forward: legendOf([
      ["#dc2626", "op running now"],
      ["#2563eb", "the value it made"],
      [null, "faded: not computed yet"],
    ]),
  };

  function reveal(element) {  // scroll the picture, not the page, to show the current op
    if (!element) return;
    var pane = graph.getBoundingClientRect(), box = element.getBoundingClientRect();
    if (box.top < pane.top || box.bottom > pane.bottom) {
      graph.scrollTop += (box.top + box.bottom - pane.top - pane.bottom) / 2;
    }
    if (box.left < pane.left || box.right > pane.right) {
      graph.scrollLeft += (box.left + box.right - pane.left - pane.right) / 2;
    }
  }

  var naturalWidth = svg.width && svg.width.baseVal ? svg.width.baseVal.value : 0;
  var zoom = 1;
  function setZoom(factor) {  // the picture's width; its height follows (it has a viewBox)
    if (!naturalWidth) return;
    zoom = Math.max(0.1, Math.min(4, factor));
    svg.style.width = Math.round(naturalWidth * zoom) + "px";
    svg.style.height = "auto";
  }

  function go(target) {
    frame = Math.max(0, Math.min(lastFrame[mode], target));
    while (highlighted.length) highlighted.pop().show("");
    var current = mode === "backward" ? drawBackward() : drawForward();
    while (panel.firstChild) panel.removeChild(panel.firstChild);
    if (mode === "backward") panelBackward(panel); else panelForward(panel);
    slider.max = String(lastFrame[mode]);
    slider.value = String(frame);
    position.textContent = (mode === "backward" ? "backward " : "forward ") + frame + " / " +
      lastFrame[mode];
    reveal(current);
    if (frame === lastFrame[mode]) stop();
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "▶ play";
    play.setAttribute("aria-pressed", "false");
  }
  function toggle() {
    if (timer !== null) { stop(); return; }
    if (frame === lastFrame[mode]) go(0);
    timer = setInterval(function () { go(frame + 1); }, 700);
    play.textContent = "❚❚ pause";
    play.setAttribute("aria-pressed", "true");
  }
  function setMode(name) {
    stop();
    mode = name;
    modes.backward.setAttribute("aria-pressed", String(name === "backward"));
    modes.forward.setAttribute("aria-pressed", String(name === "forward"));
    legends.backward.style.display = name === "backward" ? "" : "none";
    legends.forward.style.display = name === "forward" ? "" : "none";
    go(0);
  }
  var actions = {
    first: function () { go(0); },
    prev: function () { go(frame - 1); },
    next: function () { go(frame + 1); },
    last: function () { go(lastFrame[mode]); },
    play: toggle,
    smaller: function () { setZoom(zoom / 1.25); },
    larger: function () { setZoom(zoom * 1.25); },
    fit: function () { setZoom(Math.min(1, (graph.clientWidth - 4) / naturalWidth)); },
    backward: function () { setMode("backward"); },
    forward: function () { setMode("forward"); },
  };
  bar.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("button") : event.target;
    var action = target && target.getAttribute("data-action");
    if (action && actions[action]) actions[action]();
  });
  slider.addEventListener("input", function () { stop(); go(parseInt(slider.value, 10)); });
  root.addEventListener("keydown", function (event) {
    if (event.target === slider) return;  // the slider moves itself with the arrow keys
    var keys = { ArrowRight: "next", ArrowDown: "next", ArrowLeft: "prev", ArrowUp: "prev",
      Home: "first", End: "last", " ": "play" };
    var action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    if (action !== "play") stop();
    actions[action]();
  });
  setMode("backward");
}
