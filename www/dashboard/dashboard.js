// dashboard.js: live view of a cgigate node, from /_gateway/timeseries
// (the timing database, every route), /_gateway/route (one route) and
// /_gateway/status (the live counters), every five seconds.
//
// The charts are Chart.js, which cgigate serves as /_gateway/chart.js from
// Debian's libjs-chart.js; without it the tables still fill and a notice
// says what to install.  Chart.js's time scale needs a date adapter that
// Debian does not package, so the time axis is a linear scale over Unix
// seconds whose ticks fall on round times and are written as UTC.  The
// charts are made once; each refresh replaces their data and redraws.
//
// The route shown in detail and the window live in the location's hash
// (#route=/hello&window=3600), so that a view can be linked to.  What was
// drawn is also written into data- attributes of <body>, so that a test
// in a headless browser can tell what the charts hold.
"use strict";

const REFRESH_MS = 5000;
const HAVE_CHART = typeof Chart !== "undefined";
// Okabe and Ito's palette, told apart by colour-blind readers too.
const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00",
    "#56b4e9", "#000000", "#8c6d31"];
const P50 = "#0072b2", P95 = "#e69f00", P99 = "#6a3d9a";
const MAX_LINES = 8;	// routes drawn on the rate chart
// Spacings of the time axis's ticks, in seconds.
const TICK_STEPS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
    10800, 21600, 43200, 86400];

const view = { window: 900, route: null };
const charts = {};
const routeColours = new Map();
let timer = null;
let generation = 0;	// of the latest refresh: older answers are dropped

function el(tag, text, cls) {
	const e = document.createElement(tag);
	if (text !== undefined && text !== null)
		e.textContent = text;
	if (cls)
		e.className = cls;
	return e;
}

// Rows of a table from a list: a cell is aligned as its column's head
// (class num: to the right); a cell given as a Node goes in as it is.
function fillTable(id, rows, cells) {
	const body = document.querySelector("#" + id + " tbody");
	const heads = [...document.querySelectorAll("#" + id + " th")];
	body.replaceChildren();
	if (rows.length === 0) {
		const tr = el("tr");
		const td = el("td", "none", "empty");
		td.colSpan = heads.length;
		tr.append(td);
		body.append(tr);
		return;
	}
	for (const r of rows) {
		const tr = el("tr");
		cells(r).forEach((c, i) => {
			const num = heads[i] && heads[i].classList.contains("num");
			const td = el("td", undefined, num ? "num" : undefined);
			if (c instanceof Node)
				td.append(c);
			else
				td.textContent = c === null || c === undefined ?
				    "" : String(c);
			tr.append(td);
		});
		body.append(tr);
	}
}

function us(v) {
	return v === null || v === undefined ? "" :
	    v >= 1000 ? (v / 1000).toFixed(1) + " ms" : v + " us";
}

function ms(v) {
	return v === null || v === undefined ? "" :
	    v >= 100 ? v.toFixed(0) + " ms" : v.toFixed(1) + " ms";
}

function pad2(n) {
	return String(n).padStart(2, "0");
}

// Unix seconds as UTC: HH:MM, HH:MM:SS, or with the day for long windows.
function utc(t, secs, day) {
	const d = new Date(t * 1000);
	let s = pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes());
	if (secs)
		s += ":" + pad2(d.getUTCSeconds());
	if (day)
		s = pad2(d.getUTCMonth() + 1) + "-" + pad2(d.getUTCDate()) +
		    " " + s;
	return s;
}

function duration(s) {
	return s < 60 ? s + " s" : s < 3600 ? s / 60 + " min" : s / 3600 + " h";
}

function routeColour(key) {
	if (!routeColours.has(key))
		routeColours.set(key,
		    PALETTE[routeColours.size % PALETTE.length]);
	return routeColours.get(key);
}

function statusColour(code) {
	return code >= 500 ? "#d55e00" : code >= 400 ? "#e69f00" :
	    code >= 300 ? "#56b4e9" : "#009e73";
}

// The time axis: min and max are set at each refresh (the window), its
// ticks are multiples of a round spacing within them (afterBuildTicks;
// Chart.js's own would start at min), Chart.js's autoSkip drops labels
// that would overlap, and none is rotated.
function timeAxis() {
	const axis = {
		type: "linear",
		bounds: "data",
		title: { display: true, text: "time (UTC)" },
		ticks: {
			maxRotation: 0,
			autoSkip: true,
			autoSkipPadding: 16,
			callback(v) {
				return utc(v, axis.spacing < 60,
				    this.max - this.min > 86400);
			},
		},
		afterBuildTicks(scale) {
			const span = scale.max - scale.min;
			axis.spacing = TICK_STEPS.find((s) => span / s <= 8) ||
			    TICK_STEPS[TICK_STEPS.length - 1];
			const ticks = [];
			for (let t = Math.ceil(scale.min / axis.spacing) *
			    axis.spacing; t <= scale.max; t += axis.spacing)
				ticks.push({ value: t });
			scale.ticks = ticks;
		},
		spacing: 60,
	};
	return axis;
}

function bucketTitle(items, step) {
	if (items.length === 0)
		return "";
	const t = items[0].parsed.x;
	return utc(t, true) + "\u2013" + utc(t + step, true) + " UTC";
}

// A line chart over time with its y axis titled; series are set later.
// Latencies have points (a bucket between two gaps is a lone point);
// rates, 0 where there were no requests, are plain lines.
function lineChart(id, ytitle, unit, radius) {
	const axis = timeAxis();
	const chart = new Chart(document.getElementById(id), {
		type: "line",
		data: { datasets: [] },
		options: {
			animation: false,
			responsive: true,
			maintainAspectRatio: false,
			spanGaps: false,
			interaction: { mode: "nearest", axis: "x", intersect: false },
			elements: {
				point: { radius, hoverRadius: 4 },
				line: { borderWidth: 2, tension: 0 },
			},
			scales: {
				x: axis,
				y: {
					beginAtZero: true,
					title: { display: true, text: ytitle },
					ticks: { maxTicksLimit: 6 },
				},
			},
			plugins: {
				legend: {
					position: "top",
					align: "start",
					labels: { boxWidth: 12, boxHeight: 12 },
				},
				tooltip: {
					callbacks: {
						title: (items) => bucketTitle(items,
						    chart.cgStep),
						label: (item) => item.dataset.label +
						    ": " + (item.parsed.y === null ? "none" :
						    item.parsed.y + " " + unit),
					},
				},
			},
		},
	});
	chart.cgStep = 10;
	return chart;
}

function barChart(id, xtitle, ytitle) {
	return new Chart(document.getElementById(id), {
		type: "bar",
		data: { labels: [], datasets: [{ label: ytitle, data: [],
		    maxBarThickness: 48 }] },
		options: {
			animation: false,
			responsive: true,
			maintainAspectRatio: false,
			scales: {
				x: { title: { display: true, text: xtitle } },
				y: {
					beginAtZero: true,
					title: { display: true, text: ytitle },
					ticks: { precision: 0, maxTicksLimit: 6 },
				},
			},
			plugins: { legend: { display: false } },
		},
	});
}

// Give chart the datasets of sets (key, label, colour, data, ...), keeping
// the dataset objects of keys it has already: Chart.js then keeps what
// the reader did to them (a series hidden from the legend).
function setSeries(chart, from, to, step, sets) {
	const old = new Map(chart.data.datasets.map((d) => [d.key, d]));
	chart.data.datasets = sets.map((s) => {
		const d = old.get(s.key) || {
			key: s.key,
			borderColor: s.colour,
			backgroundColor: s.area || s.colour,
			pointBackgroundColor: s.colour,
			fill: s.area ? "origin" : false,
		};
		d.label = s.label;
		d.data = s.data;
		return d;
	});
	chart.options.scales.x.min = from;
	chart.options.scales.x.max = to;
	chart.cgStep = step;
	chart.update("none");
}

// {x, y} points of a series: null where a bucket had no requests.
function points(series, f) {
	return series.map((s) => ({ x: s.t, y: f(s) }));
}

function latencySets(series) {
	const pct = (k) => (s) => s[k] === null ? null : +s[k].toFixed(3);
	return [
		{ key: "p50", label: "p50", colour: P50,
		    data: points(series, pct("p50_ms")) },
		{ key: "p95", label: "p95", colour: P95,
		    data: points(series, pct("p95_ms")) },
		{ key: "p99", label: "p99", colour: P99,
		    data: points(series, pct("p99_ms")) },
	];
}

// How many times a line breaks: runs of null points between two points.
function breaks(data) {
	let n = 0, seen = false, gap = false;
	for (const p of data) {
		if (p.y === null) {
			gap = seen;
			continue;
		}
		if (gap)
			n++;
		seen = true;
		gap = false;
	}
	return n;
}

// The least room in pixels between two neighbouring labels of the time
// axis (negative: they overlap), for the test; null with fewer than two.
function labelRoom(chart) {
	const x = chart.scales.x;
	const ticks = x.ticks;
	if (!ticks || ticks.length < 2)
		return null;
	const g = chart.ctx;
	g.save();
	g.font = Chart.helpers.toFont(x.options.ticks.font).string;
	let room = Infinity;
	for (let i = 1; i < ticks.length; i++) {
		const a = x.getPixelForValue(ticks[i - 1].value);
		const b = x.getPixelForValue(ticks[i].value);
		const wa = g.measureText(x.options.ticks.callback.call(x,
		    ticks[i - 1].value)).width;
		const wb = g.measureText(x.options.ticks.callback.call(x,
		    ticks[i].value)).width;
		room = Math.min(room, b - a - (wa + wb) / 2);
	}
	g.restore();
	return Math.floor(room);
}

function drawAll(ts) {
	const b = document.body.dataset;
	const step = ts.step_s;
	if (!charts.latency) {
		charts.latency = lineChart("latency", "latency (ms)", "ms", 3);
		charts.rates = lineChart("rates", "rate (req/s)", "req/s", 0);
	}
	setSeries(charts.latency, ts.from, ts.now, step,
	    latencySets(ts.series));
	const lines = ts.routes.slice(0, MAX_LINES);
	setSeries(charts.rates, ts.from, ts.now, step, lines.map((r) => {
		const key = r.route + " " + r.mode;
		return {
			key,
			label: r.route + " (" + r.mode + ")",
			colour: routeColour(key),
			data: r.rates.map((v, i) =>
			    ({ x: ts.series[i].t, y: v })),
		};
	}));
	const p50 = charts.latency.data.datasets[0].data;
	b.points = p50.filter((p) => p.y !== null).length;
	b.nulls = p50.filter((p) => p.y === null).length;
	b.gaps = breaks(p50);
	b.rateLines = charts.rates.data.datasets.length;
	b.ratePoints = charts.rates.data.datasets.reduce((a, d) =>
	    a + d.data.filter((p) => p.y > 0).length, 0);
	const x = charts.latency.scales.x;
	b.xticks = x.ticks.length;
	b.xlabels = x.ticks.map((t) => x.options.ticks.callback.call(x,
	    t.value)).join(" ");
	b.xtitle = x.options.title.text;
	b.ytitle = charts.latency.scales.y.options.title.text;
	b.xroom = labelRoom(charts.latency);
}

function drawRoute(rt) {
	const b = document.body.dataset;
	const step = rt.step_s;
	if (!charts.drillLatency) {
		charts.drillLatency = lineChart("drill-latency", "latency (ms)",
		    "ms", 3);
		charts.drillRate = lineChart("drill-rate", "rate (req/s)",
		    "req/s", 0);
		charts.drillStatus = barChart("drill-status", "status code",
		    "requests");
	}
	setSeries(charts.drillLatency, rt.from, rt.now, step,
	    latencySets(rt.series));
	setSeries(charts.drillRate, rt.from, rt.now, step, [
		{ key: "rate", label: "requests/s", colour: PALETTE[0],
		    data: points(rt.series, (s) => s.rate) },
		// An area, so that it shows under requests/s when all fail.
		{ key: "errors", label: "5xx/s", colour: "#d55e00",
		    area: "rgba(213, 94, 0, 0.3)",
		    data: points(rt.series, (s) => s.requests === 0 ? 0 :
		    +(s.rate * s.errors / s.requests).toFixed(3)) },
	]);
	const st = charts.drillStatus;
	st.data.labels = rt.statuses.map((s) => String(s.status));
	st.data.datasets[0].data = rt.statuses.map((s) => s.requests);
	st.data.datasets[0].backgroundColor = rt.statuses.map((s) =>
	    statusColour(s.status));
	st.update("none");
	const p95 = charts.drillLatency.data.datasets[1].data;
	b.drillPoints = p95.filter((p) => p.y !== null).length;
	b.drillNulls = p95.filter((p) => p.y === null).length;
	b.drillGaps = breaks(p95);
	b.drillBars = st.data.datasets[0].data.length;
}

function routeButton(r) {
	const a = el("a", r.route, "route");
	a.href = "#" + new URLSearchParams({ route: r.route,
	    window: view.window }).toString();
	a.title = "details of " + r.route;
	return a;
}

function showRoute(rt) {
	document.getElementById("drill").hidden = false;
	document.getElementById("drill-name").textContent = rt.route;
	document.getElementById("drill-summary").textContent =
	    rt.requests + " requests in the last " + duration(rt.window_s) +
	    (rt.modes.length ? " (" + rt.modes.join(", ") + ")" : "") +
	    "; " + rt.errors + " answered 5xx; total time p50 " +
	    ms(rt.p50_ms) + ", p95 " + ms(rt.p95_ms) + ", p99 " +
	    ms(rt.p99_ms) + "; first byte p50 " + ms(rt.ttfb_p50_ms) +
	    ", p95 " + ms(rt.ttfb_p95_ms) + ", p99 " + ms(rt.ttfb_p99_ms) + ".";
	fillTable("statuses", rt.statuses, (s) => [s.status, s.requests,
	    (100 * s.requests / rt.requests).toFixed(1) + "%"]);
	fillTable("slow", rt.slow, (s) => [s.time, s.request_id,
	    (s.method || "") + " " + (s.path || ""), s.status, ms(s.total_ms),
	    ms(s.ttfb_ms), s.error]);
	const b = document.body.dataset;
	b.drill = rt.route;
	b.drillRequests = rt.requests;
	b.statuses = rt.statuses.map((s) => s.status + ":" + s.requests)
	    .join(" ");
	b.slow = rt.slow.length;
	if (HAVE_CHART)
		drawRoute(rt);
}

async function getJSON(url) {
	const res = await fetch(url, { cache: "no-store" });
	if (!res.ok)
		throw new Error(url + ": " + res.status);
	return res.json();
}

async function refresh(gen) {
	const win = "window=" + view.window;
	let ts, st, rt = null;
	try {
		[ts, st, rt] = await Promise.all([
			getJSON("/_gateway/timeseries?" + win),
			getJSON("/_gateway/status"),
			view.route === null ? null :
			    getJSON("/_gateway/route?" + new URLSearchParams(
			    { name: view.route }) + "&" + win),
		]);
	} catch (e) {
		if (gen !== generation)
			return;
		document.getElementById("summary").textContent =
		    "cannot reach cgigate: " + e.message;
		document.getElementById("updated").className = "stale";
		return;
	}
	if (gen !== generation)
		return;
	const total = ts.series.reduce((a, s) => a + s.requests, 0);
	document.getElementById("summary").textContent =
	    total + " requests to routes in the last " +
	    duration(ts.window_s) + "; up " + Math.round(st.uptime_s) +
	    " s; " + st.spawns + " processes started, " +
	    st.kills + " killed; timing queue " + st.timings.queue_depth +
	    ", dropped " + st.timings.dropped +
	    (st.timings.spooled ? ", spooled " + st.timings.spooled +
	    " (a reader holds the database)" : "") +
	    (st.draining ? "; DRAINING" : "");
	for (const s of document.querySelectorAll(".step"))
		s.textContent = duration(ts.step_s);
	fillTable("routes", ts.routes, (r) => [routeButton(r), r.mode,
	    r.requests, r.rate.toFixed(2), r.errors, ms(r.p50_ms), ms(r.p95_ms),
	    ms(r.p99_ms)]);
	for (const tr of document.querySelectorAll("#routes tbody tr")) {
		const a = tr.querySelector("a.route");
		tr.classList.toggle("chosen", a !== null &&
		    a.textContent === view.route);
	}
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
	if (HAVE_CHART)
		drawAll(ts);
	if (rt !== null)
		showRoute(rt);
	const b = document.body.dataset;
	b.buckets = ts.series.length;
	b.routes = ts.routes.length;
	b.modes = ts.modes.length;
	b.workers = workers.length;
	b.errors = ts.errors.length;
	b.updated = String(Date.now());
	const up = document.getElementById("updated");
	up.textContent = "updated " + utc(Date.now() / 1000, true) + " UTC";
	up.className = "";
}

// Refresh now, then every REFRESH_MS while asked to; a tick that begins
// while another waits for its answers takes over from it.
async function tick() {
	const gen = ++generation;
	clearTimeout(timer);
	timer = null;
	await refresh(gen);
	if (gen === generation && document.getElementById("auto").checked)
		timer = setTimeout(tick, REFRESH_MS);
}

// The view from the location's hash: #route=NAME&window=SECONDS.
function readHash() {
	const h = new URLSearchParams(location.hash.slice(1));
	const w = parseInt(h.get("window"), 10);
	view.window = w >= 10 ? w : 900;
	view.route = h.get("route");
	const sel = document.getElementById("window");
	if (![...sel.options].some((o) => o.value === String(view.window))) {
		const o = el("option", duration(view.window));
		o.value = String(view.window);
		sel.append(o);
	}
	sel.value = String(view.window);
	if (view.route === null) {
		document.getElementById("drill").hidden = true;
		delete document.body.dataset.drill;
	}
}

function writeHash() {
	const h = new URLSearchParams();
	if (view.route !== null)
		h.set("route", view.route);
	if (view.window !== 900)
		h.set("window", view.window);
	location.hash = h.toString();
}

document.body.dataset.chartjs = HAVE_CHART ? Chart.version : "missing";
if (!HAVE_CHART) {
	document.getElementById("nochart").hidden = false;
	for (const c of document.querySelectorAll(".chart"))
		c.hidden = true;
}
document.getElementById("window").addEventListener("change", (e) => {
	view.window = parseInt(e.target.value, 10);
	writeHash();
});
document.getElementById("auto").addEventListener("change", tick);
document.getElementById("drill-close").addEventListener("click", () => {
	view.route = null;
	writeHash();
});
window.addEventListener("hashchange", () => {
	readHash();
	tick();
});
readHash();
tick();
