#!/usr/bin/env node
// Times jsonata-js (the reference, npm `jsonata`) on the benchmark workload, for scripts/bench.
//
//   node scripts/bench-js.js DIR [ITERATIONS]
//
// DIR is written by `bench-compare dump DIR`: T1.jsonata, T2.jsonata, doc-5000.json and the
// hand-written baseline's expected-T*.json. For each template: compile once, warm up, then
// ITERATIONS evaluations of the same parsed document, median; prints `name value` lines:
// records/s for evaluate alone and for evaluate + JSON.stringify (bytes, as we produce), and µs
// per compile of T1 (`jsonata(expr)`). It also checks that JSON.stringify of jsonata-js's result
// equals the hand-written baseline's bytes (which the Rust benches check against our engine).
//
// The reference is installed with `npm install --prefix .reference jsonata@2.2.2`.
'use strict';

const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const jsonata = require(path.join(root, '.reference', 'node_modules', 'jsonata'));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const now = () => Number(process.hrtime.bigint()) / 1e9; // seconds

async function main() {
  const dir = process.argv[2];
  const iterations = Number(process.argv[3] || 30);
  if (!dir) {
    console.error('usage: node scripts/bench-js.js DIR [ITERATIONS]');
    process.exit(2);
  }
  const version = require(path.join(root, '.reference', 'node_modules', 'jsonata', 'package.json')).version;
  console.log(`jsonata-js.version ${version}`);
  console.log(`node.version ${process.version}`);

  const files = fs.readdirSync(dir).filter((f) => /^doc-\d+\.json$/.test(f));
  if (files.length !== 1) throw new Error(`expected one doc-N.json in ${dir}`);
  const doc = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  const n = doc.records.length;

  for (const name of ['T1', 'T2']) {
    const src = fs.readFileSync(path.join(dir, `${name}.jsonata`), 'utf8');
    const expr = jsonata(src);

    const expected = fs.readFileSync(path.join(dir, `expected-${name}.json`), 'utf8');
    const got = JSON.stringify(await expr.evaluate(doc));
    if (got === expected) {
      console.log(`check.${name} identical`);
    } else {
      let at = 0;
      while (at < got.length && got[at] === expected[at]) at++;
      console.log(`check.${name} DIFFERENT`);
      console.error(`${name}: jsonata-js and the hand-written baseline differ at ${at}:\n` +
        ` jsonata-js: ...${got.slice(Math.max(0, at - 60), at + 60)}...\n` +
        ` baseline:   ...${expected.slice(Math.max(0, at - 60), at + 60)}...`);
    }

    const warmup = Math.max(5, Math.floor(iterations / 3));
    for (let i = 0; i < warmup; i++) JSON.stringify(await expr.evaluate(doc));
    const evalOnly = [];
    const withStringify = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = now();
      const result = await expr.evaluate(doc);
      const t1 = now();
      const text = JSON.stringify(result);
      const t2 = now();
      if (text.length === 0) throw new Error('empty');
      evalOnly.push(t1 - t0);
      withStringify.push(t2 - t0);
    }
    console.log(`jsonata-js.evaluate_${name}.records_per_s ${(n / median(evalOnly)).toFixed(0)}`);
    console.log(`jsonata-js.evaluate_stringify_${name}.records_per_s ${(n / median(withStringify)).toFixed(0)}`);
  }

  // Compile: batches of `inner` compiles, median per compile.
  const t1 = fs.readFileSync(path.join(dir, 'T1.jsonata'), 'utf8');
  const inner = 200;
  let sink = 0;
  const batch = () => {
    const t0 = now();
    for (let i = 0; i < inner; i++) sink += jsonata(t1) ? 1 : 0;
    return (now() - t0) / inner;
  };
  for (let i = 0; i < 20; i++) batch();
  const times = [];
  for (let i = 0; i < Math.max(20, iterations); i++) times.push(batch());
  if (sink === 0) throw new Error('no compile');
  console.log(`jsonata-js.compile_T1.us ${(median(times) * 1e6).toFixed(3)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
