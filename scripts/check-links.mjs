#!/usr/bin/env node
// Checks the relative links of the documentation: README.md, docs/**/*.md, bench/README.md,
// tests/e2e/README.md and tests/fixtures/**/README.md.
//
// For every relative Markdown link — inline `[text](target)`, image `![alt](target)` or reference
// definition `[ref]: target` — outside fenced or indented code blocks, inline code and HTML
// comments: the target file (or folder) must exist, relative to the linking file (a leading `/`
// means the repository root), and a `#anchor` into a Markdown file must be produced by one of its
// headings under GitHub's rules: lowercase, punctuation removed except `-` and `_`, each space a
// `-`, and `-1`, `-2`, ... for repeated headings; headings inside code blocks do not count.
// Links with a scheme (http:, https:, mailto:, ...) are not checked.
//
//   node scripts/check-links.mjs               # the repository this script is in
//   node scripts/check-links.mjs --root DIR    # the same files under DIR
//
// Prints every broken link as file:line and exits 1 if there is any; else prints
// "links: N checked, 0 broken". Node 20, no dependencies.

import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

function usage(message) {
  if (message) console.error(`check-links: ${message}`);
  console.error("usage: node scripts/check-links.mjs [--root DIR]");
  process.exit(2);
}

let root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--root") {
    if (i + 1 >= args.length) usage("--root needs a folder");
    root = resolve(args[++i]);
  } else if (args[i] === "-h" || args[i] === "--help") {
    usage();
  } else {
    usage(`unknown argument ${JSON.stringify(args[i])}`);
  }
}
if (!existsSync(root) || !statSync(root).isDirectory()) usage(`no such folder: ${root}`);

// ---------------------------------------------------------------------------------------------
// The files to check.

function walk(dir, keep, out) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, keep, out);
    else if (entry.isFile() && keep(entry.name)) out.push(path);
  }
  return out;
}

function filesToCheck() {
  const files = [];
  for (const single of ["README.md", "bench/README.md", "tests/e2e/README.md"]) {
    const path = join(root, single);
    if (existsSync(path)) files.push(path);
  }
  walk(join(root, "docs"), (name) => name.endsWith(".md"), files);
  walk(join(root, "tests", "fixtures"), (name) => name === "README.md", files);
  return [...new Set(files)];
}

// ---------------------------------------------------------------------------------------------
// Markdown, as far as links and headings need it: which lines are code, which text is a heading.

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const LIST_ITEM = /^ {0,3}([-+*]|\d{1,9}[.)])(\s|$)/;

// Classifies every line: { text, code } where code is true inside fenced and indented code
// blocks (the fence lines included). HTML comments are blanked out (positions kept).
function scan(source) {
  const raw = source.replace(/\r\n?/g, "\n").split("\n");
  const lines = [];
  let fence = null; // { char, length } while inside a fenced block
  let inComment = false;
  let prevBlank = true;
  let inIndentedCode = false;
  let inList = false; // the current paragraph block belongs to a list (continuation lines)
  for (let text of raw) {
    if (fence) {
      const m = FENCE.exec(text);
      if (m && m[1][0] === fence.char && m[1].length >= fence.length && m[2].trim() === "") fence = null;
      lines.push({ text, code: true });
      prevBlank = false;
      continue;
    }
    // HTML comments (outside code): blank them so that nothing in them counts.
    let visible = "";
    let rest = text;
    while (rest.length > 0) {
      if (inComment) {
        const end = rest.indexOf("-->");
        if (end < 0) {
          visible += " ".repeat(rest.length);
          rest = "";
        } else {
          visible += " ".repeat(end + 3);
          rest = rest.slice(end + 3);
          inComment = false;
        }
      } else {
        const start = rest.indexOf("<!--");
        if (start < 0) {
          visible += rest;
          rest = "";
        } else {
          visible += rest.slice(0, start);
          rest = rest.slice(start);
          inComment = true;
        }
      }
    }
    text = visible;
    const blank = text.trim() === "";
    const indented = /^( {4}|\t)/.test(text);
    if (inIndentedCode && (indented || blank)) {
      lines.push({ text, code: true });
      prevBlank = blank;
      continue;
    }
    inIndentedCode = false;
    if (indented && prevBlank && !inList && !blank) {
      inIndentedCode = true;
      lines.push({ text, code: true });
      prevBlank = false;
      continue;
    }
    const m = FENCE.exec(text);
    if (m && !(m[1][0] === "`" && m[2].includes("`"))) {
      fence = { char: m[1][0], length: m[1].length };
      lines.push({ text, code: true });
      prevBlank = false;
      continue;
    }
    if (LIST_ITEM.test(text)) inList = true;
    else if (!blank && !/^\s/.test(text) && prevBlank) inList = false;
    lines.push({ text, code: false });
    prevBlank = blank;
  }
  return lines;
}

// Inline code spans replaced by `x`s of the same length (so that nothing in them is a link,
// and link text made of code still looks like text).
function blankInlineCode(text) {
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] === "\\" && i + 1 < text.length) {
      out += text.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (text[i] !== "`") {
      out += text[i++];
      continue;
    }
    let run = 0;
    while (text[i + run] === "`") run++;
    const ticks = "`".repeat(run);
    let close = -1;
    for (let j = text.indexOf(ticks, i + run); j >= 0; j = text.indexOf(ticks, j + 1)) {
      if (text[j - 1] !== "`" && text[j + run] !== "`") {
        close = j;
        break;
      }
    }
    if (close < 0) {
      out += ticks;
      i += run;
      continue;
    }
    out += "x".repeat(close + run - i);
    i = close + run;
  }
  return out;
}

// The text GitHub renders for a heading's inline Markdown, near enough for its anchor.
function headingText(markdown) {
  return markdown
    .replace(/`+([^`]*?)`+/g, "$1") // code spans: their content
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // links and images: their text
    .replace(/!?\[([^\]]*)\]\[[^\]]*\]/g, "$1") // reference links
    .replace(/<[^>]+>/g, "") // HTML tags
    .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, "$2") // strong
    .replace(/(\*|\b_)(?=\S)(.+?)(?<=\S)(\*|_\b)/g, "$2") // emphasis
    .replace(/\\([!-/:-@[-`{-~])/g, "$1"); // backslash escapes
}

// GitHub's slug (github-slugger): lowercase, drop everything but letters, marks, numbers,
// connector punctuation, `-` and spaces, then each space becomes `-`.
function slug(text) {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

const anchorCache = new Map();

// The anchors of a Markdown file: its headings' slugs (with -1, -2, ... for repeats) and any
// HTML `id` / `name` attributes.
function anchorsOf(path) {
  if (anchorCache.has(path)) return anchorCache.get(path);
  const anchors = new Set();
  const occurrences = new Map();
  const add = (base) => {
    let candidate = base;
    while (occurrences.has(candidate)) {
      const n = occurrences.get(base) + 1;
      occurrences.set(base, n);
      candidate = `${base}-${n}`;
    }
    occurrences.set(candidate, 0);
    anchors.add(candidate);
  };
  const lines = scan(readFileSync(path, "utf8"));
  for (let i = 0; i < lines.length; i++) {
    const { text, code } = lines[i];
    if (code) continue;
    for (const m of text.matchAll(/<[a-z][^>]*?\s(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]);
    const atx = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$/.exec(text);
    if (atx) {
      const content = (atx[2] ?? "").replace(/(^|[ \t]+)#+[ \t]*$/, "").trim();
      add(slug(headingText(content)));
      continue;
    }
    // Setext: a paragraph line underlined with === or ---.
    const next = lines[i + 1];
    if (
      next &&
      !next.code &&
      /^ {0,3}(=+|-+)[ \t]*$/.test(next.text) &&
      text.trim() !== "" &&
      !/^ {4}/.test(text) &&
      !LIST_ITEM.test(text) &&
      !/^ {0,3}>/.test(text) &&
      (i === 0 || lines[i - 1].text.trim() === "" || lines[i - 1].code)
    ) {
      add(slug(headingText(text.trim())));
      i++;
    }
  }
  anchorCache.set(path, anchors);
  return anchors;
}

// ---------------------------------------------------------------------------------------------
// Links.

// [text](target) and ![alt](target), text with at most one level of nested brackets; the target
// bare or in <>, optionally followed by a title.
const INLINE_LINK = /!?\[((?:[^[\]\\]|\\.|\[(?:[^[\]\\]|\\.)*\])*)\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
// [ref]: target
const REFERENCE_DEFINITION = /^ {0,3}\[((?:[^[\]\\]|\\.)+)\]:\s*(<[^>\n]*>|\S+)/;

function linksOf(path) {
  const links = [];
  const lines = scan(readFileSync(path, "utf8"));
  lines.forEach(({ text, code }, index) => {
    if (code) return;
    const visible = blankInlineCode(text);
    const definition = REFERENCE_DEFINITION.exec(visible);
    if (definition) {
      links.push({ line: index + 1, text: `[${definition[1]}]:`, target: definition[2] });
      return;
    }
    for (const m of visible.matchAll(INLINE_LINK)) {
      links.push({ line: index + 1, text: m[0], target: m[2] });
    }
  });
  return links;
}

function check(from, rawTarget) {
  let target = rawTarget.startsWith("<") && rawTarget.endsWith(">") ? rawTarget.slice(1, -1) : rawTarget;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) return { skip: true };
  const hash = target.indexOf("#");
  let pathPart = hash >= 0 ? target.slice(0, hash) : target;
  let anchor = hash >= 0 ? target.slice(hash + 1) : null;
  pathPart = pathPart.replace(/\?.*$/, "");
  try {
    pathPart = decodeURIComponent(pathPart);
    if (anchor !== null) anchor = decodeURIComponent(anchor);
  } catch {
    return { error: "cannot decode the target" };
  }
  let file = from;
  if (pathPart !== "") {
    file = pathPart.startsWith("/") ? join(root, pathPart) : resolve(dirname(from), pathPart);
    if (!existsSync(file)) return { error: `no such file: ${relative(root, file) || "."}` };
    if (file !== root && !file.startsWith(root + sep)) return { error: "points outside the repository" };
  }
  if (anchor === null) return {};
  if (anchor === "") return { error: "empty anchor" };
  if (statSync(file).isDirectory()) return { error: `an anchor into a folder: ${relative(root, file)}` };
  if (!file.toLowerCase().endsWith(".md")) return {}; // e.g. #L10 into a source file: not checked
  if (!anchorsOf(file).has(anchor)) return { error: `no heading with anchor #${anchor} in ${relative(root, file)}` };
  return {};
}

const files = filesToCheck();
if (files.length === 0) {
  console.error(`check-links: no Markdown files to check under ${root}`);
  process.exit(2);
}
let checked = 0;
const broken = [];
for (const file of files) {
  for (const link of linksOf(file)) {
    const result = check(file, link.target);
    if (result.skip) continue;
    checked++;
    if (result.error) broken.push(`${relative(root, file)}:${link.line}: ${link.text} — ${result.error}`);
  }
}
for (const line of broken) console.error(line);
console.log(`links: ${checked} checked, ${broken.length} broken (${files.length} files)`);
process.exit(broken.length > 0 ? 1 : 0);
