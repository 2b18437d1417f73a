#!/usr/bin/env node
/*
 * ort_bench.js — times an ONNX encoder (exported by embed_bench.py) in ONNX Runtime (onnxruntime-node, CPU).
 *
 *   node ort_bench.js MODEL.onnx INPUTS.bin BATCH SEQ SECONDS [OUT.bin]
 *
 * INPUTS.bin: int64 little-endian input_ids[BATCH*SEQ] then attention_mask[BATCH*SEQ] (token_type_ids are
 * zeros). Session: intraOpNumThreads 2, interOpNumThreads 1, sequential execution, all graph
 * optimizations, otherwise ONNX Runtime's defaults (intra-op threads spin between ops). Two warm-up runs,
 * then timed runs until SECONDS have passed (and at least 3 runs), like the PyTorch column. With OUT.bin,
 * writes the warm-up run's last_hidden_state (float32, BATCH*SEQ*hidden) there for the numerics check.
 * Prints one JSON line: {"sentences_per_s", "ms_per_batch", "cpu_ms_per_batch", "runs", "ort"}; CPU time
 * is process.cpuUsage() (user + system, all threads of the process).
 */
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
	const [model, inputs, Bs, Ss, secsS, outPath] = process.argv.slice(2);
	if (!secsS) {
		console.error('usage: ort_bench.js MODEL.onnx INPUTS.bin BATCH SEQ SECONDS [OUT.bin]');
		process.exit(2);
	}
	const B = Number(Bs), S = Number(Ss), secs = Number(secsS), n = B * S;
	const buf = fs.readFileSync(inputs);
	if (buf.length !== 2 * n * 8)
		throw new Error(`${inputs}: ${buf.length} bytes, expected ${2 * n * 8}`);
	const all = new BigInt64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
	const feeds = {
		input_ids: new ort.Tensor('int64', all.slice(0, n), [B, S]),
		attention_mask: new ort.Tensor('int64', all.slice(n, 2 * n), [B, S]),
		token_type_ids: new ort.Tensor('int64', new BigInt64Array(n), [B, S]),
	};
	const session = await ort.InferenceSession.create(model, {
		executionProviders: ['cpu'],
		intraOpNumThreads: 2,
		interOpNumThreads: 1,
		executionMode: 'sequential',
		graphOptimizationLevel: 'all',
	});
	let res = await session.run(feeds);
	if (outPath) {
		const h = res.last_hidden_state;
		if (h.dims.length !== 3 || h.dims[0] !== B || h.dims[1] !== S)
			throw new Error(`last_hidden_state dims ${h.dims}`);
		fs.writeFileSync(outPath, Buffer.from(h.data.buffer, h.data.byteOffset, h.data.byteLength));
	}
	res = await session.run(feeds);
	let runs = 0, el = 0;
	const c0 = process.cpuUsage();
	const t0 = process.hrtime.bigint();
	for (;;) {
		res = await session.run(feeds);
		runs++;
		el = Number(process.hrtime.bigint() - t0) * 1e-9;
		if (el >= secs && runs >= 3)
			break;
	}
	const c = process.cpuUsage(c0);
	const cpu = (c.user + c.system) * 1e-6;
	console.log(JSON.stringify({
		sentences_per_s: runs * B / el,
		ms_per_batch: el / runs * 1000,
		cpu_ms_per_batch: cpu / runs * 1000,
		runs,
		ort: ort.env.versions.node || ort.env.versions.common,
	}));
	await session.release();
}

main().catch((e) => {
	console.error(e && e.stack ? e.stack : e);
	process.exit(1);
});
