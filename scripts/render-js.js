#!/usr/bin/env node
// `audience render` done by the reference, for the whole-process comparison of BENCHMARKS.md
// ("The JSON input path"): reads the expression and the JSON input, `JSON.parse`s the input,
// evaluates with jsonata-js (npm `jsonata` 2.2.2 in .reference/, installed by scripts/test) and
// writes `JSON.stringify` of the result and a newline, as `audience render` does.
//
//   node scripts/render-js.js EXPR.jsonata INPUT.json > out.json
'use strict';

const fs = require('fs');
const path = require('path');

const jsonata = require(path.join(__dirname, '..', '.reference', 'node_modules', 'jsonata'));

async function main() {
  const [exprPath, inputPath] = process.argv.slice(2);
  if (!exprPath || !inputPath) {
    process.stderr.write('usage: node scripts/render-js.js EXPR.jsonata INPUT.json\n');
    process.exit(2);
  }
  const expr = jsonata(fs.readFileSync(exprPath, 'utf8'));
  const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
  const result = await expr.evaluate(input);
  if (result !== undefined) {
    fs.writeSync(1, JSON.stringify(result) + '\n');
  }
}

main().catch((e) => {
  process.stderr.write(`${e.code || e.name}: ${e.message}\n`);
  process.exit(1);
});
