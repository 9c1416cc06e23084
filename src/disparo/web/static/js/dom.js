// Building DOM nodes from data. User text only ever becomes a text node (textContent):
// nothing on this page parses a string as HTML.

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "selected", "open"]);

/** An element: h("button", {class: "btn", on: {click}}, "Salvar", child, [more]). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  apply(el, props || {});
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element with plain attributes. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function apply(el, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) {
      if (PROPERTIES.has(key)) el[key] = false;
      continue;
    }
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else if (key === "style") throw new Error("inline styles are refused by the page's CSP");
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

/** Append children: nodes, strings (as text), arrays; null and false are skipped. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Call `fn` once `ms` have passed without another call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A poller: runs `fn`, waits `intervalMs()` after it settles, repeats until stopped. */
export function poller(fn, intervalMs) {
  let timer = null;
  let stopped = false;
  let running = false;
  const tick = async () => {
    if (stopped || running) return;
    running = true;
    try {
      await fn();
    } catch (err) {
      console.warn("poll failed", err);
    } finally {
      running = false;
      if (!stopped) timer = setTimeout(tick, typeof intervalMs === "function" ? intervalMs() : intervalMs);
    }
  };
  return {
    start() {
      stopped = false;
      tick();
      return this;
    },
    now() {
      clearTimeout(timer);
      tick();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
