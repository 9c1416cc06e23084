// Telegram's HTML (parse_mode=HTML) turned into DOM nodes from a whitelist of tags.
// Anything else — <script>, <img onerror>, stray "<" — becomes plain text: user text is
// never handed to an HTML parser. Also counts the visible length the way Telegram limits it
// (UTF-16 code units of the text after the tags are removed and the entities decoded).

export const TEXT_LIMIT = 4096;
export const CAPTION_LIMIT = 1024;

// Telegram tag -> how the preview shows it.
const TAGS = {
  b: "strong",
  strong: "strong",
  i: "em",
  em: "em",
  u: "u",
  ins: "u",
  s: "s",
  strike: "s",
  del: "s",
  code: "code",
  pre: "pre",
  blockquote: "blockquote",
  a: "a",
  "tg-spoiler": "spoiler",
  span: "spoiler", // only with class="tg-spoiler"
  "tg-emoji": "emoji",
};
const NAMED_ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"' };
const TAG_RE = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>/y;
const ATTR_RE = /([^\s=>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
const ENTITY_RE = /&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});/y;
const HREF_RE = /^(https?:\/\/|tg:\/\/|mailto:)/i;

/** Decode Telegram's entities in `text` (numeric ones and &lt; &gt; &amp; &quot;). */
export function decodeEntities(text) {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const amp = text.indexOf("&", i);
    if (amp < 0) break;
    out += text.slice(i, amp);
    ENTITY_RE.lastIndex = amp;
    const m = ENTITY_RE.exec(text);
    const decoded = m ? entityValue(m[1]) : null;
    if (decoded === null) {
      out += "&";
      i = amp + 1;
    } else {
      out += decoded;
      i = amp + m[0].length;
    }
  }
  return out + text.slice(i);
}

function entityValue(body) {
  if (body[0] !== "#") return NAMED_ENTITIES[body.toLowerCase()] ?? null;
  const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
  if (!Number.isFinite(code) || code < 1 || code > 0x10ffff) return null;
  try {
    return String.fromCodePoint(code);
  } catch {
    return null;
  }
}

function attributes(raw) {
  const attrs = {};
  for (const m of raw.matchAll(ATTR_RE)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
  }
  return attrs;
}

function elementFor(kind, attrs, problems) {
  switch (kind) {
    case "spoiler": {
      const el = document.createElement("span");
      el.className = "tg-spoiler";
      return el;
    }
    case "emoji": {
      const el = document.createElement("span");
      el.className = "tg-emoji";
      return el;
    }
    case "a": {
      // Shown as a link, never followed from the preview.
      const el = document.createElement("span");
      el.className = "tg-link";
      const href = (attrs.href || "").trim();
      if (HREF_RE.test(href)) el.title = href;
      else problems.push({ key: "tg.badHref" });
      return el;
    }
    case "blockquote": {
      const el = document.createElement("blockquote");
      if ("expandable" in attrs) el.className = "expandable";
      return el;
    }
    default:
      return document.createElement(kind);
  }
}

/**
 * Parse `copy` as Telegram HTML.
 * Returns {fragment, length, problems: [{key, vars}]}: `fragment` holds only whitelisted
 * elements and text nodes; `length` is what Telegram checks against 4096 / 1024.
 */
export function renderTelegramHtml(copy) {
  const fragment = document.createDocumentFragment();
  const problems = [];
  const stack = [{ name: null, node: fragment }];
  let length = 0;
  let text = "";

  const top = () => stack[stack.length - 1].node;
  const flush = () => {
    if (!text) return;
    const decoded = decodeEntities(text);
    length += decoded.length;
    top().append(document.createTextNode(decoded));
    text = "";
  };
  const literal = (raw) => {
    // An unsupported tag shows exactly as typed (it is text, not markup).
    flush();
    length += raw.length;
    top().append(document.createTextNode(raw));
  };

  let i = 0;
  const source = String(copy ?? "");
  while (i < source.length) {
    const lt = source.indexOf("<", i);
    if (lt < 0) {
      text += source.slice(i);
      break;
    }
    text += source.slice(i, lt);
    TAG_RE.lastIndex = lt;
    const m = TAG_RE.exec(source);
    if (!m) {
      problems.push({ key: "tg.unsupported", vars: { tag: "<" } });
      literal("<");
      i = lt + 1;
      continue;
    }
    const [raw, closing, rawName, rawAttrs] = m;
    const name = rawName.toLowerCase();
    const attrs = closing ? {} : attributes(rawAttrs || "");
    let kind = TAGS[name];
    if (name === "span" && !(attrs.class || "").split(/\s+/).includes("tg-spoiler") && !closing) kind = undefined;
    i = lt + raw.length;
    if (!kind) {
      problems.push({ key: "tg.unsupported", vars: { tag: `<${closing}${name}>` } });
      literal(raw);
      continue;
    }
    flush();
    if (closing) {
      if (stack.length > 1 && stack[stack.length - 1].name === name) {
        stack.pop();
      } else {
        problems.push({ key: "tg.unexpectedClose", vars: { tag: `</${name}>` } });
        literal(raw);
      }
      continue;
    }
    const el = elementFor(kind, attrs, problems);
    top().append(el);
    stack.push({ name, node: el });
  }
  flush();
  for (const open of stack.slice(1)) problems.push({ key: "tg.unclosed", vars: { tag: `<${open.name}>` } });
  return { fragment, length, problems };
}

/** Telegram's limit for this copy: a caption when the media rides along, else a text. */
export function copyLimit(mediaType) {
  return mediaType === "photo" || mediaType === "video" ? CAPTION_LIMIT : TEXT_LIMIT;
}
