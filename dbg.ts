import { Run } from "./test/sim/raft-sim.ts";
const seed = Number(process.argv[2]); const from = Number(process.argv[3] ?? 0); const to = Number(process.argv[4] ?? 1e9);
const run = new Run(seed);
console.log(run.cluster.options.raft, run.cluster.options.faults, run.swarm, run.cluster.options.readyCrashRate);
const c = run.cluster;
const origSend = c.network.send.bind(c.network);
c.network.send = (now, f, t, p) => { const m = (p as any).message; if (now >= from && now <= to) console.log(now, 'send', f, '->', t, (typeof m === 'string' ? m : JSON.stringify(m)).slice(0, 160), c.network.isCut(f,t) ? 'CUT' : ''); origSend(now, f, t, p); };
const origCrash = c.crash.bind(c); c.crash = (id) => { console.log(c.now, 'CRASH', id); origCrash(id); };
const origRestart = c.restart.bind(c); c.restart = (id) => { if (!c.node(id).isUp) console.log(c.now, 'RESTART', id); origRestart(id); };
const origSet = c.checkers.setLease.bind(c.checkers); const last = new Map();
c.checkers.setLease = (id, l) => { const k = JSON.stringify(l); if (last.get(id) !== k && c.now >= from && c.now <= to) console.log(c.now, 'LEASE', id, k); last.set(id, k); origSet(id, l); };
try { for (let s = 0; s < 1200; s++) { run.faultStep(); c.step(); } } catch (e) { console.log(String(e)); }
for (const n of c.nodes.values()) { const st = n.core?.status(); console.log(n.id, st && JSON.stringify({...st, progress: st.progress && [...st.progress]})); }
