// Telegram's HTML (parse_mode=HTML): the preview of a copy, the problems Disparo refuses it for
// (the rules of disparo.domain.telegram_html, held to the same corpus of cases), and the length
// Telegram counts. User text is never handed to an HTML parser: the preview holds only elements
// from a whitelist and text nodes, and anything else — <script>, <img onerror>, a stray "<" —
// shows as the text it is. The length is in UTF-16 code units after the tags are removed, the
// entities decoded and the text cleaned and trimmed as Telegram does; 0 when Telegram would find
// the text empty.

export const TEXT_LIMIT = 4096;
export const CAPTION_LIMIT = 1024;

const FORMATTING = new Set(["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler"]);
const TAGS = new Set([...FORMATTING, "a", "code", "pre", "blockquote", "tg-emoji"]);
// The one attribute each tag may carry; the others take none.
const ATTRIBUTE = { a: "href", span: "class", code: "class", blockquote: "expandable", "tg-emoji": "emoji-id" };
// Elements Telegram keeps whole: one of them inside another is dropped.
const CONTINUOUS = new Set(["a", "code", "pre", "tg-emoji"]);
const NAMED_ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"' };
const LINK_SCHEMES = new Set(["http", "https", "tg", "ton", "tonsite"]);
const INT64 = 2n ** 63n;

// Telegram's markup knows only ASCII whitespace: a no-break space is text, even inside a tag.
const SPACES = " \t\r\n\v\f";
const TAG_NAME = /[^ \t\r\n\v\f>]*/y;
const ATTRIBUTE_NAME = /[^ \t\r\n\v\f=>]+/y;
const NAME_TOKEN = /[A-Za-z0-9.-]*/y;
const END_TAG = /<\/([^ \t\r\n\v\f>]*)[ \t\r\n\v\f]*>/y;
const DIGITS = /[0-9]*/y;
const HEX_DIGITS = /[0-9A-Fa-f]*/y;
const LETTERS = /[A-Za-z]*/y;
const NUMERIC_LOOKALIKE = /&#[xX]?[0-9A-Fa-f]+;/y;
const NAMED_LOOKALIKE = /&[A-Za-z][A-Za-z0-9]*;/y;
const EMOJI_ID = /^-?[1-9][0-9]*$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):(\/\/)?/;
const BAD_URL_CHAR = /[\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

// What Telegram does to the text once the markup is gone: it drops \r, U+2028..U+202E and three
// combining marks, turns other control characters and the tab into spaces, and counts a text of
// blank characters alone as empty.
const DROPPED = /[\r\u2028-\u202e\u030a\u0333\u033f]/g;
const BLANKED = /[\x00-\x09\x0b-\x1f]/g;
const BLANK = /^[ \n\u00a0\u1680\u180e\u2000-\u200f\u202f\u205f\u2800\u3000\ufeff\ufffc\u{e0000}-\u{e007f}]*$/u;

function cleaned(text) {
  return text.replace(DROPPED, "").replace(BLANKED, " ");
}

function isTrimmed(char) {
  return char === " " || char === "\n";
}

/** The length Telegram counts of the cleaned `text`: both ends trimmed, except that a <pre> or
 * link starting among the leading blanks keeps its own (from `keptFrom`). */
function countedLength(text, keptFrom) {
  let end = text.length;
  while (end > 0 && isTrimmed(text[end - 1])) end--;
  let start = 0;
  while (start < text.length && isTrimmed(text[start])) start++;
  if (keptFrom !== null) start = Math.min(start, keptFrom);
  const visible = text.slice(start, end);
  return BLANK.test(visible) ? 0 : visible.length;
}

function match(re, text, at) {
  re.lastIndex = at;
  return re.exec(text);
}

/** The character of the entity at `text[j] === "&"` and where it ends, as Telegram reads it;
 * [null, j] when Telegram keeps the "&" as text. The closing ";" is optional. */
function decodeEntity(text, j) {
  let k = j + 1;
  let char;
  if (text[k] === "#") {
    const hex = text[k + 1] === "x";
    const digits = match(hex ? HEX_DIGITS : DIGITS, text, k + (hex ? 2 : 1))[0];
    k += (hex ? 2 : 1) + digits.length;
    if (k - j >= 10 || !digits) return [null, j];
    const code = parseInt(digits, hex ? 16 : 10);
    if (!(code > 0 && code < 0x10ffff)) return [null, j];
    char = String.fromCodePoint(code);
  } else {
    const name = match(LETTERS, text, k)[0];
    k += name.length;
    if (!Object.hasOwn(NAMED_ENTITIES, name)) return [null, j];
    char = NAMED_ENTITIES[name];
  }
  return [char, text[k] === ";" ? k + 1 : k];
}

/** Entities decoded as Telegram does inside a quoted attribute value (a bare "&" stays). */
function decodeAttribute(value) {
  let out = "";
  let i = 0;
  for (let amp = value.indexOf("&"); amp >= 0; amp = value.indexOf("&", i)) {
    const [char, end] = decodeEntity(value, amp);
    out += value.slice(i, amp) + (char ?? "&");
    i = char === null ? amp + 1 : end;
  }
  return out + value.slice(i);
}

/** Whether Telegram would make a link of `href` (else it shows the text plainly). */
function isLink(href) {
  if (!href.trim() || BAD_URL_CHAR.test(href)) return false;
  const scheme = SCHEME.exec(href);
  if (!scheme) return true; // Telegram adds http://
  const rest = href.slice(scheme[0].length);
  if (!scheme[2] && /^[0-9]/.test(rest)) return true; // host:port
  return LINK_SCHEMES.has(scheme[1].toLowerCase()) && rest !== "";
}

function isCustomEmojiId(value) {
  return value.length <= 20 && EMOJI_ID.test(value) && -INT64 <= BigInt(value) && BigInt(value) < INT64;
}

function elementFor(name, attributes) {
  const value = (attribute) => {
    const found = attributes.filter(([key, v]) => key === attribute && v !== null);
    return found.length ? found[found.length - 1][1] : null;
  };
  switch (name) {
    case "b":
    case "strong":
      return document.createElement("strong");
    case "i":
    case "em":
      return document.createElement("em");
    case "u":
    case "ins":
      return document.createElement("u");
    case "s":
    case "strike":
    case "del":
      return document.createElement("s");
    case "tg-spoiler":
    case "span": {
      const el = document.createElement("span");
      if (name === "tg-spoiler" || value("class") === "tg-spoiler") el.className = "tg-spoiler";
      return el;
    }
    case "tg-emoji": {
      const el = document.createElement("span");
      el.className = "tg-emoji";
      return el;
    }
    case "a": {
      // Shown as a link, never followed from the preview.
      const el = document.createElement("span");
      el.className = "tg-link";
      const href = value("href");
      if (href !== null && isLink(href)) el.title = href;
      return el;
    }
    case "blockquote": {
      const el = document.createElement("blockquote");
      if (attributes.some(([key]) => key === "expandable")) el.className = "expandable";
      return el;
    }
    default: // code, pre
      return document.createElement(name);
  }
}

class Scan {
  constructor(text) {
    this.text = text;
    this.fragment = document.createDocumentFragment();
    this.stack = [];
    this.problems = [];
    this.out = [];
    this.visible = 0; // length of the cleaned visible text
    this.parsed = 0; // length of the text as parsed, before Telegram cleans it
    this.lastNotNewline = -1;
    this.keptFrom = null;
  }

  problem(key, vars) {
    this.problems.push(vars ? { key, vars } : { key });
  }

  /** Show text in the preview as it is (markup that is no markup), without counting it. */
  show(text) {
    if (text) (this.stack.length ? this.stack[this.stack.length - 1].node : this.fragment).append(text);
  }

  /** Text of the message: shown, and counted as Telegram counts it. */
  emit(chunk) {
    this.show(chunk);
    this.parsed += chunk.length;
    const clean = cleaned(chunk);
    let shown = clean.length;
    while (shown > 0 && clean[shown - 1] === "\n") shown--;
    if (shown) this.lastNotNewline = this.visible + shown - 1;
    this.out.push(clean);
    this.visible += clean.length;
  }

  run() {
    const text = this.text;
    let i = 0;
    while (i < text.length) {
      let j = i;
      while (j < text.length && text[j] !== "<" && text[j] !== "&") j++;
      this.emit(text.slice(i, j));
      if (j >= text.length) break;
      if (text[j] === "&") i = this.entity(j);
      else if (text[j + 1] === "/") i = this.endTag(j);
      else i = this.startTag(j);
    }
    for (const open of this.stack) this.problem("tg.unclosed", { tag: `<${open.name}>` });
    return countedLength(this.out.join(""), this.keptFrom);
  }

  entity(j) {
    const text = this.text;
    const [char, end] = decodeEntity(text, j);
    if (char === null) {
      const numeric = match(NUMERIC_LOOKALIKE, text, j);
      const named = match(NAMED_LOOKALIKE, text, j);
      if (numeric) this.problem("tg.badCharacter", { entity: numeric[0] });
      else if (named) this.problem("tg.badEntity", { entity: named[0] });
      else this.problem("tg.bareAmp");
      this.emit("&");
      return j + 1;
    }
    const code = char.codePointAt(0);
    if (code >= 0xd800 && code <= 0xdfff) this.problem("tg.surrogate", { entity: text.slice(j, end) });
    else if (text[end - 1] !== ";") this.problem("tg.entitySemicolon", { entity: text.slice(j, end) });
    this.emit(char);
    return end;
  }

  startTag(j) {
    const text = this.text;
    const raw = match(TAG_NAME, text, j + 1)[0];
    const name = raw.toLowerCase();
    if (!TAGS.has(name)) {
      if (name) this.problem("tg.unsupported", { tag: `<${raw}>` });
      else this.problem("tg.bareLt");
      this.emit("<");
      return j + 1;
    }
    const attributes = [];
    let k = j + 1 + raw.length;
    for (;;) {
      while (k < text.length && SPACES.includes(text[k])) k++;
      if (k >= text.length) {
        this.problem("tg.unfinished", { tag: `<${name}>` });
        this.show(text.slice(j));
        return k;
      }
      if (text[k] === ">") break;
      const parsed = this.attribute(name, k);
      if (parsed === null) {
        const end = text.indexOf(">", k);
        const after = end < 0 ? text.length : end + 1;
        this.show(text.slice(j, after));
        return after;
      }
      attributes.push([parsed[0], parsed[1]]);
      k = parsed[2];
    }
    const insideWhole = this.stack.some((open) => CONTINUOUS.has(open.name));
    const hrefs = attributes.filter(([key]) => key === "href");
    const href = name === "a" && hrefs.length ? hrefs[hrefs.length - 1][1] : null;
    const element = {
      name,
      node: elementFor(name, attributes),
      visibleAt: this.visible,
      parsedAt: this.parsed,
      keepsLeading: !insideWhole && (name === "pre" || (href !== null && isLink(href))),
      emojiId: attributes.filter(([key]) => key === "emoji-id").pop()?.[1] ?? "",
    };
    this.checkAttributes(name, attributes);
    this.checkNesting(name);
    (this.stack.length ? this.stack[this.stack.length - 1].node : this.fragment).append(element.node);
    this.stack.push(element);
    return k + 1;
  }

  /** `name[=value]` at `k` as [attribute, value or null, end]; null when the tag is malformed. */
  attribute(tag, k) {
    const text = this.text;
    const found = match(ATTRIBUTE_NAME, text, k);
    if (!found) {
      this.problem("tg.badAttributeSyntax", { tag: `<${tag}>` });
      return null;
    }
    const attribute = found[0].toLowerCase();
    k += found[0].length;
    while (k < text.length && SPACES.includes(text[k])) k++;
    if (text[k] !== "=") return [attribute, null, k];
    k++;
    while (k < text.length && SPACES.includes(text[k])) k++;
    if (text[k] === '"' || text[k] === "'") {
      const end = text.indexOf(text[k], k + 1);
      if (end < 0) {
        this.problem("tg.badAttributeSyntax", { tag: `<${tag}>` });
        return null;
      }
      return [attribute, decodeAttribute(text.slice(k + 1, end)), end + 1];
    }
    const token = match(NAME_TOKEN, text, k)[0];
    const after = text[k + token.length];
    if (after !== undefined && !SPACES.includes(after) && after !== ">") {
      this.problem("tg.badAttributeSyntax", { tag: `<${tag}>` });
      return null;
    }
    // Telegram reads an unquoted value as a name token, in lower case.
    return [attribute, token.toLowerCase(), k + token.length];
  }

  checkAttributes(name, attributes) {
    const allowed = ATTRIBUTE[name];
    const seen = new Set();
    for (const [attribute, value] of attributes) {
      const vars = { tag: `<${name}>`, attribute };
      if (value === null && !(name === "blockquote" && attribute === "expandable")) this.problem("tg.attributeValue", vars);
      else if (attribute !== allowed) this.problem("tg.attribute", vars);
      else if (seen.has(attribute)) this.problem("tg.attributeTwice", vars);
      seen.add(attribute);
    }
    const values = attributes.filter(([key, v]) => key === allowed && v !== null).map(([, v]) => v);
    if (name === "a") {
      if (!isLink(values.length ? values[values.length - 1] : "")) this.problem("tg.badHref");
    } else if (name === "span") {
      // Telegram takes the last class that starts with "tg-", and it must be tg-spoiler.
      const spoiler = values.filter((v) => v.startsWith("tg-"));
      if (spoiler[spoiler.length - 1] !== "tg-spoiler") this.problem("tg.spanClass");
    } else if (name === "code" && values.length) {
      const languages = values.filter((v) => v.startsWith("language-"));
      const parent = this.stack.length ? this.stack[this.stack.length - 1].name : null;
      if (!languages.length || languages[languages.length - 1] === "language-" || parent !== "pre") {
        this.problem("tg.language");
      }
    }
  }

  checkNesting(name) {
    for (const [depth, outer] of this.stack.entries()) {
      const direct = depth === this.stack.length - 1;
      const languageBlock = outer.name === "pre" && name === "code" && direct;
      if (
        ((outer.name === "pre" || outer.name === "code") && !languageBlock) ||
        ((outer.name === "a" || outer.name === "tg-emoji") && !FORMATTING.has(name)) ||
        (outer.name === "blockquote" && name === "blockquote")
      ) {
        this.problem("tg.nesting", { tag: `<${name}>`, outer: `<${outer.name}>` });
        return;
      }
    }
  }

  endTag(j) {
    const text = this.text;
    const found = match(END_TAG, text, j);
    if (!found) {
      this.problem("tg.unfinished", { tag: "</" });
      const end = text.indexOf(">", j);
      const after = end < 0 ? text.length : end + 1;
      this.show(text.slice(j, after));
      return after;
    }
    const raw = found[1];
    const name = raw.toLowerCase();
    const after = j + found[0].length;
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      this.problem("tg.unexpectedClose", { tag: `</${raw}>` });
      this.show(found[0]);
    } else if (!raw) {
      this.problem("tg.endUnnamed");
      this.close(this.stack.pop());
    } else if (top.name === name) {
      if (raw !== name) this.problem("tg.endCase", { tag: `</${name}>` });
      this.close(this.stack.pop());
    } else if (this.stack.some((open) => open.name === name)) {
      while (this.stack[this.stack.length - 1].name !== name) {
        this.problem("tg.unclosed", { tag: `<${this.stack.pop().name}>` });
      }
      this.close(this.stack.pop());
    } else {
      this.problem("tg.mismatch", { tag: `</${raw}>`, open: `<${top.name}>` });
      this.show(found[0]);
    }
    return after;
  }

  close(element) {
    if (element.name === "tg-emoji") {
      if (this.parsed === element.parsedAt) this.problem("tg.emojiEmpty");
      else if (!isCustomEmojiId(element.emojiId)) this.problem("tg.emojiId");
    }
    // Telegram keeps such an element if it holds more than line breaks. They never nest, so
    // the first one closed is the first one opened.
    const holdsText = this.lastNotNewline >= element.visibleAt;
    if (element.keepsLeading && holdsText && this.keptFrom === null) this.keptFrom = element.visibleAt;
  }
}

/**
 * Parse `copy` as Telegram HTML.
 * Returns {fragment, length, problems: [{key, vars}]}: `fragment` holds only whitelisted
 * elements and text nodes; `length` is what Telegram checks against 4096 / 1024; `problems`
 * is empty exactly when Disparo takes the copy.
 */
export function renderTelegramHtml(copy) {
  const scan = new Scan(String(copy ?? ""));
  const length = scan.run();
  return { fragment: scan.fragment, length, problems: scan.problems };
}

/** Telegram's limit for this copy: a caption when the media rides along, else a text. */
export function copyLimit(mediaType) {
  return mediaType === "photo" || mediaType === "video" ? CAPTION_LIMIT : TEXT_LIMIT;
}
