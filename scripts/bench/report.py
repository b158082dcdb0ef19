#!/usr/bin/env python3
"""Entries and tables for the bench drivers (stdlib only).

  report.py entry --id ID --label LABEL --kind dlp|peer
            (--dlp-report REPORT.json | --peer-output STDOUT.txt | --skipped REASON)
            [--wall SECONDS] [--time-file TIME_V.txt] [--command CMD] -o DIR/ID.json
  report.py summarize --dir DIR --name NAME --title TITLE --primary KEY [--lower-is-better]
            [--column KEY:HEADER:FORMAT ...] [--ratio A/B ...] [--target SPEC ...]
            [--note TEXT ...] -o out/bench/NAME.json

An entry file holds {"id", "label", "kind", "skipped", "metrics": {...}, "command", "raw"}.
metrics has every top-level number of the report or peer record, `evaluation.X` as `test_X`,
`mean.X` as `mean_X`, plus `process_wall_seconds` (timed by the driver) and `peak_rss_mb`
(GNU time's "Maximum resident set size": the largest single process of the run).

Ratios A/B are "how many times better A is on the primary metric": A/B when higher is better,
B/A when lower is better. Targets:
  ratio:A/B>=1.4          the ratio above
  value:ID:KEY<400        a metric of one entry (operators >=, <=, >, <)
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
import time


def _numbers(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)) and math.isfinite(v):
            out[prefix + k] = v
    return out


def _time_v(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.strip().startswith(key):
                    return line.rsplit(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _peak_rss_mb(path):
    try:
        with open(path) as f:
            for line in f:
                if "Maximum resident set size" in line:
                    return int(line.rsplit(":", 1)[1]) * 1024 / 1e6
    except (OSError, ValueError):
        pass
    return None


def cmd_entry(a):
    entry = {"id": a.id, "label": a.label, "kind": a.kind, "skipped": a.skipped, "metrics": {},
             "command": a.command, "busy_before_percent": a.busy_before, "raw": None}
    if a.dlp_report:
        with open(a.dlp_report) as f:
            raw = json.load(f)
        m = _numbers(raw)
        for section, prefix in (("evaluation", "test_"), ("mean", "mean_"), ("std", "std_")):
            if isinstance(raw.get(section), dict):
                m.update(_numbers(raw[section], prefix))
        entry["raw"], entry["metrics"] = raw, m
    elif a.peer_output:
        with open(a.peer_output) as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip().startswith("{")]
        if not lines:
            entry["skipped"] = f"no JSON line on stdout ({a.peer_output})"
        else:
            raw = json.loads(lines[-1])
            entry["raw"], entry["metrics"] = raw, _numbers(raw)
    if a.wall is not None:
        entry["metrics"]["process_wall_seconds"] = a.wall
    if a.busy_before is not None:
        entry["metrics"]["busy_before_percent"] = a.busy_before
    if a.stat and a.time_file:
        # CPU time of other processes while this run ran: all busy jiffies minus the run's own
        # user+sys time (GNU time), as a percentage of all the machine's CPU time.
        b0, i0 = (float(v) for v in a.stat[0].split())
        b1, i1 = (float(v) for v in a.stat[1].split())
        hz = os.sysconf("SC_CLK_TCK")
        user, system = _time_v(a.time_file, "User time"), _time_v(a.time_file, "System time")
        total = (b1 - b0) + (i1 - i0)
        if user is not None and system is not None and total > 0:
            own = (float(user) + float(system)) * hz
            entry["metrics"]["others_cpu_percent_during"] = round(max(0.0, 100 * ((b1 - b0) - own) / total), 1)
    if a.time_file:
        rss = _peak_rss_mb(a.time_file)
        if rss is not None:
            entry["metrics"]["peak_rss_mb"] = round(rss, 1)
    os.makedirs(os.path.dirname(os.path.abspath(a.o)), exist_ok=True)
    with open(a.o, "w") as f:
        json.dump(entry, f, indent=1)
    with open(os.path.join(os.path.dirname(os.path.abspath(a.o)), ".order"), "a") as f:
        f.write(a.id + "\n")


def _fmt(v, fmt):
    if v is None:
        return "-"
    try:
        return format(v, fmt)
    except (TypeError, ValueError):
        return str(v)


_OPS = {">=": lambda x, y: x >= y, "<=": lambda x, y: x <= y, ">": lambda x, y: x > y,
        "<": lambda x, y: x < y}


def _merge_repeats(ids, entries, primary):
    """Entries ID, ID@2, ID@3, ... are repeated runs of one system (drivers' --repeats R, run in
    rounds so that every system sees the same machine states): they become one entry whose
    numeric metrics are the medians over the runs that were not skipped, with every run's
    primary figure kept in `runs`."""
    groups = {}
    for i in ids:
        groups.setdefault(i.split("@")[0], []).append(i)
    merged = {}
    for base, members in groups.items():
        ran = [entries[m] for m in members if not entries[m]["skipped"]]
        if len(members) == 1 or not ran:
            merged[base] = entries[members[0]]
            continue
        e = dict(ran[0])
        metrics = {}
        for k, v in ran[0]["metrics"].items():
            vals = [x["metrics"].get(k) for x in ran]
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vals):
                metrics[k] = statistics.median(vals)
            else:
                metrics[k] = v
        e["metrics"] = metrics
        e["runs"] = [x["metrics"].get(primary) for x in ran]
        e["label"] = f"{ran[0]['label']} (median of {len(ran)})"
        merged[base] = e
    return list(groups), merged


def cmd_summarize(a):
    order_path = os.path.join(a.dir, ".order")
    ids = []
    if os.path.exists(order_path):
        with open(order_path) as f:
            for line in f:
                if line.strip() and line.strip() not in ids:
                    ids.append(line.strip())
    entries = {}
    for i in ids:
        with open(os.path.join(a.dir, i + ".json")) as f:
            entries[i] = json.load(f)
    ids, entries = _merge_repeats(ids, entries, a.primary)

    columns = [("label", "system", "")]
    for c in a.column:
        key, header, fmt = (c.split(":") + ["", ""])[:3]
        columns.append((key, header or key, fmt or ".3g"))
    # How busy the machine was with other processes just before and during each run: figures
    # taken on a busy machine are low.
    columns.append(("busy_before_percent", "busy% before", ".0f"))
    columns.append(("others_cpu_percent_during", "others% during", ".0f"))

    def value(i, key):
        e = entries.get(i)
        if e is None or e["skipped"]:
            return None
        return e["metrics"].get(key)

    def ratio(spec):
        x, y = spec.split("/")
        va, vb = value(x, a.primary), value(y, a.primary)
        if va is None or vb is None or va == 0 or vb == 0:
            return None
        return vb / va if a.lower_is_better else va / vb

    rows = []
    for i in ids:
        e = entries[i]
        row = [e["label"]]
        for key, _, fmt in columns[1:]:
            row.append("-" if e["skipped"] else _fmt(e["metrics"].get(key), fmt))
        rows.append((row, e["skipped"]))

    widths = [max(len(h), *(len(r[0][j]) for r in rows)) if rows else len(h)
              for j, (_, h, _) in enumerate(columns)]
    print()
    print(a.title)
    print("  ".join(h.ljust(widths[j]) if j == 0 else h.rjust(widths[j])
                    for j, (_, h, _) in enumerate(columns)))
    print("  ".join("-" * w for w in widths))
    for row, skipped in rows:
        line = "  ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(row))
        if skipped:
            line = row[0].ljust(widths[0]) + "  skipped: " + skipped
        print(line)

    ratios = []
    if a.ratio:
        better = "lower" if a.lower_is_better else "higher"
        print()
        print(f"ratios on {a.primary} ({better} is better; > 1 means the first is better):")
        for spec in a.ratio:
            x, y = spec.split("/")
            r = ratio(spec)
            lx = entries[x]["label"] if x in entries else x
            ly = entries[y]["label"] if y in entries else y
            ratios.append({"a": x, "b": y, "a_label": lx, "b_label": ly, "ratio": r})
            print(f"  {lx} / {ly}: " + ("n/a" if r is None else f"{r:.2f}x"))

    targets = []
    for spec in a.target:
        m = re.fullmatch(r"(ratio|value):(.+?)(>=|<=|>|<)([0-9.eE+-]+)", spec)
        if not m:
            raise SystemExit(f"bad target {spec!r}")
        kind, what, op, bound = m.group(1), m.group(2), m.group(3), float(m.group(4))
        if kind == "ratio":
            got = ratio(what)
            x, y = what.split("/")
            text = f"{entries.get(x, {}).get('label', x)} / {entries.get(y, {}).get('label', y)} {op} {bound:g}x"
        else:
            i, key = what.split(":", 1)
            got = value(i, key)
            text = f"{entries.get(i, {}).get('label', i)} {key} {op} {bound:g}"
        ok = None if got is None else bool(_OPS[op](got, bound))
        targets.append({"spec": spec, "text": text, "value": got, "ok": ok})

    runs = [(entries[i]["label"], entries[i]["runs"]) for i in ids if entries[i].get("runs")]
    if runs:
        print()
        print(f"every run's {a.primary}:")
        for label, r in runs:
            print(f"  {label}: " + ", ".join(f"{x:,.6g}" for x in r if isinstance(x, (int, float))))
    for note in a.note:
        print(note)
    if targets:
        for t in targets:
            status = "n/a (not measured)" if t["ok"] is None else ("PASS" if t["ok"] else "FAIL")
            got = "" if t["value"] is None else f" (got {t['value']:.3g})"
            print(f"  [{status}] {t['text']}{got}")

    summary = {
        "name": a.name,
        "title": a.title,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "primary_metric": a.primary,
        "higher_is_better": not a.lower_is_better,
        "entries": [entries[i] for i in ids],
        "ratios": ratios,
        "targets": targets,
        "notes": a.note,
    }
    tmp = a.o + ".tmp"
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(tmp, a.o)
    print(f"\nsummary: {a.o}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("entry")
    e.add_argument("--id", required=True)
    e.add_argument("--label", required=True)
    e.add_argument("--kind", choices=["dlp", "peer"], required=True)
    e.add_argument("--dlp-report")
    e.add_argument("--peer-output")
    e.add_argument("--skipped")
    e.add_argument("--wall", type=float)
    e.add_argument("--time-file")
    e.add_argument("--busy-before", type=float, help="percent CPU busy just before the run")
    e.add_argument("--stat", nargs=2, metavar=("BEFORE", "AFTER"),
                   help='/proc/stat "busy idle" jiffies before and after the run')
    e.add_argument("--command")
    e.add_argument("-o", required=True)
    s = sub.add_parser("summarize")
    s.add_argument("--dir", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--title", required=True)
    s.add_argument("--primary", required=True)
    s.add_argument("--lower-is-better", action="store_true")
    s.add_argument("--column", action="append", default=[])
    s.add_argument("--ratio", action="append", default=[])
    s.add_argument("--target", action="append", default=[])
    s.add_argument("--note", action="append", default=[])
    s.add_argument("-o", required=True)
    a = p.parse_args()
    {"entry": cmd_entry, "summarize": cmd_summarize}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
