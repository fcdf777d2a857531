// dashboard.js: live view of a cgigate node, from /_gateway/timeseries
// (the timing database) and /_gateway/status (the live counters), every
// two seconds.  Plain canvas drawing, no library.  What was drawn is also
// written into data- attributes of <body>, so a test can tell that the
// charts hold data.
"use strict";

const WINDOW_S = 900;
const BLUE = "#2b6cb0";
const ORANGE = "#c05621";

function el(tag, text, cls) {
	const e = document.createElement(tag);
	if (text !== undefined)
		e.textContent = text;
	if (cls)
		e.className = cls;
	return e;
}

function fillTable(id, rows, cells) {
	const body = document.querySelector("#" + id + " tbody");
	body.replaceChildren();
	if (rows.length === 0) {
		const tr = el("tr");
		const td = el("td", "none", "empty");
		td.colSpan = document.querySelectorAll("#" + id + " th").length;
		tr.append(td);
		body.append(tr);
		return;
	}
	for (const r of rows) {
		const tr = el("tr");
		for (const c of cells(r))
			tr.append(typeof c === "number" ? el("td", String(c), "num") :
			    el("td", c === null || c === undefined ? "" : String(c)));
		body.append(tr);
	}
}

function us(v) {
	return v === null || v === undefined ? "" :
	    v >= 1000 ? (v / 1000).toFixed(1) + " ms" : v + " us";
}

// Lines of p50 and p95 over time; returns the number of points drawn.
function drawLatency(series, now) {
	const cv = document.getElementById("latency");
	const g = cv.getContext("2d");
	const w = cv.width, h = cv.height, pad = 30;
	g.clearRect(0, 0, w, h);
	const max = Math.max(1, ...series.map((s) => s.p95_ms || 0));
	const x = (t) => pad + (w - 2 * pad) * (1 - (now - t) / WINDOW_S);
	const y = (v) => h - pad - (h - 2 * pad) * v / max;
	g.strokeStyle = "#ccc";
	g.strokeRect(pad, pad, w - 2 * pad, h - 2 * pad);
	g.fillStyle = "#666";
	g.fillText(max.toFixed(1) + " ms", 2, pad);
	g.fillText("0", 2, h - pad);
	for (const [key, color] of [["p50_ms", BLUE], ["p95_ms", ORANGE]]) {
		g.strokeStyle = color;
		g.beginPath();
		series.forEach((s, i) => {
			if (i === 0)
				g.moveTo(x(s.t), y(s[key] || 0));
			else
				g.lineTo(x(s.t), y(s[key] || 0));
		});
		g.stroke();
		g.fillStyle = color;
		for (const s of series)
			g.fillRect(x(s.t) - 2, y(s[key] || 0) - 2, 4, 4);
	}
	return series.length;
}

// One bar per route; returns the number of bars.
function drawRates(routes) {
	const cv = document.getElementById("rates");
	const g = cv.getContext("2d");
	const w = cv.width, h = cv.height, pad = 20;
	g.clearRect(0, 0, w, h);
	const max = Math.max(0.001, ...routes.map((r) => r.rate));
	const bw = (w - 2 * pad) / Math.max(1, routes.length);
	routes.forEach((r, i) => {
		const bh = (h - 3 * pad) * r.rate / max;
		g.fillStyle = r.mode === "cgi" ? ORANGE : BLUE;
		g.fillRect(pad + i * bw + 4, h - 2 * pad - bh, bw - 8, bh);
		g.fillStyle = "#222";
		g.fillText(r.route + " " + r.rate.toFixed(2) + "/s",
		    pad + i * bw + 4, h - pad);
	});
	return routes.length;
}

async function getJSON(url) {
	const res = await fetch(url, { cache: "no-store" });
	if (!res.ok)
		throw new Error(url + ": " + res.status);
	return res.json();
}

async function refresh() {
	let ts, st;
	try {
		[ts, st] = await Promise.all([
			getJSON("/_gateway/timeseries?window=" + WINDOW_S),
			getJSON("/_gateway/status")]);
	} catch (e) {
		document.getElementById("summary").textContent =
		    "cannot reach cgigate: " + e.message;
		return;
	}
	const total = ts.series.reduce((a, s) => a + s.requests, 0);
	document.getElementById("summary").textContent =
	    total + " requests in the last " + ts.window_s / 60 + " minutes; up " +
	    Math.round(st.uptime_s) + " s; " + st.spawns + " processes started, " +
	    st.kills + " killed; timing queue " + st.timings.queue_depth +
	    ", dropped " + st.timings.dropped + (st.draining ? "; DRAINING" : "");
	const points = drawLatency(ts.series, ts.now);
	const bars = drawRates(ts.routes);
	fillTable("modes", ts.modes, (m) => [m.mode, m.requests,
	    us(m.avg_queue_us), us(m.avg_spawn_us), us(m.avg_connect_us),
	    us(m.avg_ttfb_us), us(m.avg_total_us)]);
	const workers = [];
	for (const p of st.pools)
		for (const w of p.workers)
			workers.push([p.route, p.remote ? w.name : w.pid, w.state,
			    w.requests, p.remote ? "" : w.age_s.toFixed(0) + " s"]);
	fillTable("pools", workers, (r) => r);
	fillTable("errors", ts.errors, (e) => [e.time, e.route, e.status,
	    e.error]);
	const b = document.body.dataset;
	b.points = points;
	b.routes = bars;
	b.modes = ts.modes.length;
	b.workers = workers.length;
	b.errors = ts.errors.length;
	b.updated = String(Date.now());
}

refresh();
setInterval(refresh, 2000);
