// check.mjs: parse Mermaid diagrams with Mermaid's own parser, offline.
//
//   node check.mjs FILE...
//
// A .md or .markdown file is checked block by block (every ```mermaid fence);
// any other file is one diagram. On a syntax error it prints
// FILE:LINE: block N: the parser's message, with LINE counted in FILE, and
// exits 1. Exit 2 is for a usage error or an unreadable file. Use the
// `diagramcheck` wrapper beside this file: it installs the pinned tooling
// (npm ci) on first use.
import { readFile } from 'node:fs/promises';
import { JSDOM } from 'jsdom';

// Mermaid expects a browser: DOMPurify and its diagram registry reach for
// window and document as soon as the module loads, so install a jsdom window
// as globals before importing it.
const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

// blocks returns the diagrams of one file: [{text, line, index}], line being
// the file's line number (1-based) of the diagram's first line.
function blocks(path, text) {
  if (!/\.(md|markdown)$/i.test(path)) {
    return [{ text, line: 1, index: 0 }];
  }
  const out = [];
  const lines = text.split('\n');
  let open = null; // {fence, line, body}
  lines.forEach((l, i) => {
    if (open === null) {
      const m = /^ {0,3}(`{3,}|~{3,})\s*mermaid\s*$/.exec(l);
      if (m) open = { fence: m[1], line: i + 2, body: [] };
      return;
    }
    const closing = new RegExp('^ {0,3}' + open.fence[0] + '{' + open.fence.length + ',}\\s*$');
    if (closing.test(l)) {
      out.push({ text: open.body.join('\n') + '\n', line: open.line, index: out.length });
      open = null;
      return;
    }
    open.body.push(l);
  });
  if (open !== null) {
    out.push({ text: open.body.join('\n') + '\n', line: open.line, index: out.length, unclosed: true });
  }
  return out;
}

// errorLine returns the 1-based line of the diagram the parser blamed, if it
// said.
function errorLine(err) {
  const loc = err?.hash?.loc;
  if (loc && Number.isInteger(loc.first_line)) return loc.first_line;
  if (Number.isInteger(err?.hash?.line)) return err.hash.line + 1;
  const m = /on line (\d+)/.exec(String(err?.message ?? err));
  if (m) return Number(m[1]);
  const t = err?.token?.startLine; // langium-based diagrams
  if (Number.isInteger(t)) return t;
  return null;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: diagramcheck FILE... (Mermaid files, or Markdown files with ```mermaid blocks)');
  process.exit(2);
}

let diagrams = 0;
let failures = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    console.error(`${file}: ${err.message}`);
    process.exit(2);
  }
  const found = blocks(file, text);
  if (found.length === 0 && /\.(md|markdown)$/i.test(file)) {
    console.error(`${file}: warning: no \`\`\`mermaid blocks`);
  }
  for (const b of found) {
    diagrams++;
    const where = /\.(md|markdown)$/i.test(file) ? ` block ${b.index + 1}:` : '';
    if (b.unclosed) {
      failures++;
      console.error(`${file}:${b.line - 1}:${where} unclosed \`\`\`mermaid fence`);
      continue;
    }
    try {
      await mermaid.parse(b.text);
    } catch (err) {
      failures++;
      const rel = errorLine(err);
      const fileLine = rel === null ? b.line : b.line + rel - 1;
      const src = rel === null ? '' : (b.text.split('\n')[rel - 1] ?? '');
      console.error(`${file}:${fileLine}:${where} ${String(err.message ?? err).trim()}`);
      if (rel !== null) console.error(`  ${fileLine} | ${src}`);
    }
  }
}
if (failures > 0) {
  console.error(`diagramcheck: ${failures} of ${diagrams} diagrams failed to parse`);
  process.exit(1);
}
console.log(`diagramcheck: ${diagrams} diagrams in ${files.length} files parse`);
