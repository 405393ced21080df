#!/usr/bin/env node
// Runs the reference JSONata (npm `jsonata` 2.2.2, installed by `scripts/test` with
// `npm install --prefix .reference jsonata@2.2.2`) over a whole corpus in one process.
//
//   node scripts/reference.js CORPUS.json [OUT.json]
//
// CORPUS.json is a JSON array of cases `{"expr": "<source>", "input_text": "<JSON text>"}`;
// `input_text` absent (or null) means undefined input. The input travels as raw JSON text and
// is parsed here with `JSON.parse`, so that numbers are parsed by JavaScript's own rules (serde_json
// and JavaScript differ at the edges, and the comparison must see what the reference sees).
//
// The output (to OUT.json, or stdout) is a JSON array with one entry per case, in order:
//   {"ok": "<JSON.stringify of the result>"}   a result
//   {"undefined": true}                          an undefined result
//   {"error": "<code>"}                          a compile or evaluation error (its `code`;
//                                                "JS:<name>: <message>" when it has none)
'use strict';

const fs = require('fs');
const path = require('path');

const referenceDir = path.join(__dirname, '..', '.reference', 'node_modules', 'jsonata');

function main() {
  const [corpusPath, outPath] = process.argv.slice(2);
  if (!corpusPath) {
    process.stderr.write('usage: node scripts/reference.js CORPUS.json [OUT.json]\n');
    process.exit(2);
  }
  let jsonata;
  try {
    jsonata = require(referenceDir);
  } catch (e) {
    process.stderr.write(
      `reference JSONata not found at ${referenceDir}: run scripts/test ` +
        `(or: npm install --prefix .reference jsonata@2.2.2)\n`,
    );
    process.exit(3);
  }
  const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
  return run(jsonata, corpus).then((results) => {
    const text = JSON.stringify(results);
    if (outPath) {
      fs.writeFileSync(outPath, text);
    } else {
      process.stdout.write(text);
    }
  });
}

function errorOf(e) {
  if (e && typeof e.code === 'string') return { error: e.code };
  const name = e && e.name ? e.name : 'Error';
  const message = e && e.message ? e.message : String(e);
  return { error: `JS:${name}: ${message}` };
}

async function run(jsonata, corpus) {
  const results = new Array(corpus.length);
  for (let i = 0; i < corpus.length; i++) {
    const c = corpus[i];
    let compiled;
    try {
      compiled = jsonata(c.expr);
    } catch (e) {
      results[i] = errorOf(e);
      continue;
    }
    const input = c.input_text === undefined || c.input_text === null ? undefined : JSON.parse(c.input_text);
    try {
      const value = await compiled.evaluate(input);
      const text = value === undefined ? undefined : JSON.stringify(value);
      results[i] = text === undefined ? { undefined: true } : { ok: text };
    } catch (e) {
      results[i] = errorOf(e);
    }
  }
  return results;
}

main().catch((e) => {
  process.stderr.write(`reference.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
