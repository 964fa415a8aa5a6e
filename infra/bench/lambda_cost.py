#!/usr/bin/env python3
"""What a million completed device flows cost on AWS at list prices (us-east-1): HTTP API, Lambda
(arm64), DynamoDB on-demand, Secrets Manager, and the CloudWatch Logs and data transfer they bring.

Inputs (every one is at the top of this file, to be edited as the code changes):
  - handler time per step: the criterion bench `cargo bench -p shared --bench handlers` (one request
    through `routes::dispatch` on the memory store), read from
    `$CARGO_TARGET_DIR/criterion/<bench>/new/estimates.json` (mean point estimate), else
    `target/criterion`, else the figures recorded in STEPS;
  - DynamoDB requests and request units per step (STEPS), from the request budget
    (`cargo run -p blackbox --bin request-budget`; `--budget FILE` checks its counts against STEPS)
    and the item layouts in shared/src/store/dynamodb/;
  - list prices (PRICES, with their sources) and the assumptions of the duration model (ASSUMED).

Lambda bills the whole invocation, not the handler alone: per invocation the model takes the
handler's CPU time plus the SDK's CPU per DynamoDB request and the runtime's per event, divides it
by the CPU share of the memory size (a full vCPU at 1,769 MB, proportionally less below), adds the
DynamoDB round trips as waiting time, and rounds up to Lambda's 1 ms.

Usage: python3 infra/bench/lambda_cost.py [--ui pages|api] [--polls 12] [--memory MB]
           [--store-latency-ms 5] [--criterion DIR] [--budget FILE]
Python 3 standard library only.
"""

import argparse
import json
import math
import os
import re
import signal
import sys

# --- List prices, us-east-1, as published in 2025 (AWS changes them: check before quoting). ---
PRICES = {
    # https://aws.amazon.com/api-gateway/pricing/ : HTTP APIs, first 300 million requests a month
    # (a request is metered per 512 KB).
    "http_api_request": 1.00 / 1e6,
    # https://aws.amazon.com/lambda/pricing/ : Arm, first 7.5 billion GB-seconds a month; duration
    # billed in 1 ms increments; requests the same for both architectures.
    "lambda_gb_second": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ : on-demand throughput, Standard table
    # class (prices from 1 November 2024).
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    # https://aws.amazon.com/secrets-manager/pricing/ : per secret per month, and per 10,000 API
    # calls (one GetSecretValue per cold start: shared/src/secrets.rs).
    "secret_month": 0.40,
    "secrets_api_call": 0.05 / 10_000,
    # https://aws.amazon.com/cloudwatch/pricing/ : Logs, Standard log class, data ingested.
    "logs_ingested_gb": 0.50,
    # https://aws.amazon.com/ec2/pricing/on-demand/ (Data Transfer): out to the internet, first
    # 10 TB a month after the free 100 GB (API Gateway responses are billed at this rate).
    "data_out_gb": 0.09,
}

# --- Assumptions of the duration model (stated in the README; change them here). ---
ASSUMED = {
    # One DynamoDB request in-region, as the function waits for it: single-item reads and writes
    # take a few ms; transactions are often slower (more so on contended items).
    "store_latency_ms": 5.0,
    # Client CPU per DynamoDB request at one full vCPU: the SDK's request pipeline, SigV4, JSON in
    # and out, hyper. Measured: the thread CPU time of the same steps over DynamoStore against the
    # local DynamoDB-compatible server (moto, plain HTTP) minus the memory store's: 0.9 to 1.2 ms a
    # request, release profile (the bench itself runs on the memory store). moto closes every
    # connection, so that includes a TCP connect per request, which DynamoDB's kept-alive
    # connections save and TLS partly gives back.
    "sdk_cpu_ms": 1.0,
    # CPU per invocation outside the handler at one full vCPU, not measured: the API Gateway event
    # parsed, the response serialized, the runtime API's response and next calls on loopback.
    "invoke_cpu_ms": 0.3,
    # A Graviton2 core relative to the machine the bench ran on (1.0: as fast).
    "cpu_scale": 1.0,
    # Lambda's memory size with one full vCPU; below it the share is proportional.
    "full_vcpu_mb": 1769,
    # Invocations that start a new execution environment (AWS: typically under 1 %).
    "cold_start_rate": 0.01,
    # A cold start: init CPU at one vCPU (the cold-start bench: about 5 ms, exec to the first
    # `next`), plus the GetSecretValue round trip and the first TLS handshakes, waited for.
    "init_cpu_ms": 5.0,
    "init_wait_ms": 40.0,
    # Lambda's own log lines per invocation (START, END, REPORT), bytes.
    "platform_log_bytes": 320,
    # HTTP API response overhead on the wire beyond what the handler returns, bytes.
    "response_overhead_bytes": 200,
    # Requests a browser makes that no route serves: /favicon.ico once per flow (the pages link
    # none); API Gateway answers 404 without a function. Counted as HTTP API requests.
    "browser_unrouted_requests": 1,
}

# Memory size per function, MB: the recommendation (see `recommend` and the README). The two
# functions that check passwords run argon2id (m = 19 MiB, t = 2), tens of ms of CPU.
MEMORY_MB = {
    "device_authorization": 128,
    "token": 128,
    "device": 128,
    "signon": 512,
    "signon_assets": 128,
    "flows": 512,
}

# --- The steps. ---
# bench: the criterion bench id; function: the Lambda function serving it; requests: DynamoDB
# requests (the request budget); rru / wru: read and write request units. Units: every item here
# is under 1 KB (measured on the local server: a device grant after 12 polls and its redemption
# 0.8 KB, a flow 0.64 KB, a user code 0.5 KB, a counter 84 B; a remembered consent grows by 47 B
# with each device flow the same person approves for the same app, and passes 1 KB after about
# 20); strongly consistent reads, 1 RRU per 4 KB, also for an item not found; a standard write
# 1 WRU per KB (an update: of the larger of the item before and after); a TransactWriteItems
# 2 WRU per item per KB, ConditionCheck items included, and (assumed: the answer reports no
# consumed capacity) also when a condition cancels it. handler_ms: the figure this table was
# written with (bench mean on a 2-core x86_64 Xeon, release profile with aws-lc-sys at opt-level
# 3), used when no criterion results are found. resp_bytes / log_bytes: the answer and the JSON
# log lines of one request, measured.
STEPS = {
    # TransactWriteItems: grant Put, user-code Put, 2 rate counters (network, client).
    "device_authorization": dict(bench="device_authorization", function="device_authorization",
                                 requests=1, rru=0, wru=8, handler_ms=0.041, resp_bytes=469, log_bytes=852),
    # UpdateItem appending to the grant's poll log.
    "poll_pending": dict(bench="token_poll_pending", function="token",
                         requests=1, rru=0, wru=1, handler_ms=0.013, resp_bytes=269, log_bytes=235),
    "poll_slow_down": dict(bench="token_poll_slow_down", function="token",
                           requests=1, rru=0, wru=1, handler_ms=0.011, resp_bytes=243, log_bytes=235),
    # The append, which claims the redemption (access, ID and refresh token signed).
    "poll_success": dict(bench="token_poll_success", function="token",
                         requests=1, rru=0, wru=1, handler_ms=0.129, resp_bytes=1825, log_bytes=945),
    # GET /{env}/device: the flow id carries its starting facts.
    "device_start": dict(bench="device_flow_start", function="device",
                         requests=0, rru=0, wru=0, handler_ms=0.02, resp_bytes=344, log_bytes=232),
    # The flow API (a custom sign-on UI).
    "flow_get": dict(bench="flow_get", function="flows",
                     requests=1, rru=1, wru=0, handler_ms=0.024, resp_bytes=725, log_bytes=240),
    # BatchGetItem: the user and 4 sign-on counters; TransactWriteItems: the flow update and a
    # ConditionCheck on each of the 3 limited counters.
    "flow_sign_on": dict(bench="sign_on/flow_sign_on", function="flows",
                         requests=2, rru=5, wru=8, handler_ms=49.6, resp_bytes=1203, log_bytes=827),
    # TransactWriteItems: flow update, 3 guessing counters, ConditionCheck on the code (cancelled
    # when the code exists); UpdateItem flow (the flow API's default; with
    # FLOW_API_HOLDS_VERIFIED_CODES, as on the pages: no UpdateItem, 1 WRU less, the cookie's
    # Set-Cookie of about 560 bytes, 660 with a smart TV's user agent in the grant).
    "flow_user_code_verify": dict(bench="flow_user_code_verify", function="flows",
                                  requests=2, rru=0, wru=11, handler_ms=0.05, resp_bytes=1087, log_bytes=1009),
    # TransactWriteItems: flow (with the held grant), grant, remembered consent (the flow as this
    # warm instance last answered it; a GetItem of the flow first on another instance).
    "flow_consent": dict(bench="flow_consent", function="flows",
                         requests=1, rru=0, wru=6, handler_ms=0.052, resp_bytes=904, log_bytes=995),
    # The hosted pages (a browser): every page and form reads the flow first (GetItem).
    "page_confirm_code": dict(bench="page_confirm_code", function="signon",
                              requests=1, rru=1, wru=0, handler_ms=0.027, resp_bytes=1374, log_bytes=232),
    "page_stylesheet": dict(bench="page_stylesheet", function="signon_assets",
                            requests=0, rru=0, wru=0, handler_ms=0.009, resp_bytes=2336, log_bytes=244),
    # GetItem flow (the page), the code's TransactWriteItems; the held-code cookie (about 560
    # bytes) in the 303.
    "page_post_code": dict(bench="page_post_code", function="signon",
                           requests=2, rru=1, wru=10, handler_ms=0.048, resp_bytes=363 + 560, log_bytes=923),
    "page_sign_in": dict(bench="page_sign_in", function="signon",
                         requests=1, rru=1, wru=0, handler_ms=0.023, resp_bytes=1263, log_bytes=235),
    "page_post_sign_in": dict(bench="sign_on/page_post_sign_in", function="signon",
                              requests=3, rru=6, wru=8, handler_ms=45.7, resp_bytes=655, log_bytes=979),
    "page_approve": dict(bench="page_approve", function="signon",
                         requests=1, rru=1, wru=0, handler_ms=0.028, resp_bytes=1435, log_bytes=234),
    # GetItem flow (the page), TransactWriteItems (flow, grant, consent).
    "page_post_consent": dict(bench="page_post_consent", function="signon",
                              requests=2, rru=1, wru=6, handler_ms=0.044, resp_bytes=363, log_bytes=991),
    "page_result": dict(bench="page_result", function="signon",
                        requests=1, rru=1, wru=0, handler_ms=0.015, resp_bytes=697, log_bytes=231),
}


def flow_steps(ui, polls):
    """The requests of one completed device flow with `polls` polls (the last one succeeds)."""
    device = [("device_authorization", 1), ("poll_pending", polls - 1), ("poll_success", 1)]
    if ui == "api":
        # A custom sign-on UI on PingOne's flow API (the README's curl walk-through).
        person = [("device_start", 1), ("flow_get", 1), ("flow_sign_on", 1), ("flow_user_code_verify", 1),
                  ("flow_consent", 1)]
    else:
        # A browser from `verification_uri_complete`: the code to confirm, sign in, allow, the
        # result; each form's 303 leads to the next page; the stylesheet once (cached an hour).
        person = [("device_start", 1), ("page_confirm_code", 1), ("page_stylesheet", 1), ("page_post_code", 1),
                  ("page_sign_in", 1), ("page_post_sign_in", 1), ("page_approve", 1), ("page_post_consent", 1),
                  ("page_result", 1)]
    return device + person


def criterion_dirs(explicit):
    if explicit:
        return [explicit]
    dirs = []
    if os.environ.get("CARGO_TARGET_DIR"):
        dirs.append(os.path.join(os.environ["CARGO_TARGET_DIR"], "criterion"))
    here = os.path.dirname(os.path.abspath(__file__))
    dirs.append(os.path.join(here, "..", "..", "target", "criterion"))
    return dirs


def handler_ms(step, dirs):
    """The bench's mean for `step` in ms, and where it came from."""
    for d in dirs:
        path = os.path.join(d, *step["bench"].split("/"), "new", "estimates.json")
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)["mean"]["point_estimate"] / 1e6, "bench"
    return step["handler_ms"], "recorded"


def check_budget(path):
    """Warns where the request budget's counts differ from STEPS (then update requests and units)."""
    text = sys.stdin.read() if path == "-" else open(path).read()
    names = {"device_authorization": ["device_authorization"], "flow start": ["device_start"],
             "login": ["flow_sign_on"], "code verification": ["flow_user_code_verify"], "consent": ["flow_consent"],
             "pending poll": ["poll_pending"], "slow_down poll": ["poll_slow_down"],
             "successful poll": ["poll_success"]}
    found = False
    for name, steps in names.items():
        m = re.search(r"(?:^|[:,] )" + re.escape(name) + r" (\d+)", text, re.M)
        if not m:
            continue
        found = True
        for s in steps:
            if int(m.group(1)) != STEPS[s]["requests"]:
                print(f"WARNING: the request budget says {name} {m.group(1)}, STEPS['{s}'] has "
                      f"{STEPS[s]['requests']}: update its requests and units (and the page steps that "
                      f"perform the same action)", file=sys.stderr)
    if not found:
        print("WARNING: no request budget line found in " + path, file=sys.stderr)


def invocation(step, ms, memory_mb, a):
    """(billed ms, wall ms) of one invocation of `step` with handler CPU `ms` at `memory_mb`."""
    share = min(1.0, memory_mb / a["full_vcpu_mb"])
    cpu = (ms + step["requests"] * a["sdk_cpu_ms"] + a["invoke_cpu_ms"]) * a["cpu_scale"]
    wall = cpu / share + step["requests"] * a["store_latency_ms"]
    return math.ceil(wall), wall


def cost(ui, polls, memory, a, dirs):
    """Per-step rows and cost lines for a million flows."""
    flows = 1e6
    rows, sources = [], set()
    totals = dict(invocations=0, gb_s=0.0, rru=0, wru=0, log_bytes=0, resp_bytes=0)
    for name, count in flow_steps(ui, polls):
        step = STEPS[name]
        ms, source = handler_ms(step, dirs)
        sources.add(source)
        mb = memory[step["function"]]
        billed, wall = invocation(step, ms, mb, a)
        rows.append((name, step["function"], count, ms, step["requests"], step["rru"], step["wru"], mb, wall, billed))
        totals["invocations"] += count
        totals["gb_s"] += count * billed / 1000 * mb / 1024
        totals["rru"] += count * step["rru"]
        totals["wru"] += count * step["wru"]
        totals["log_bytes"] += count * (step["log_bytes"] + a["platform_log_bytes"])
        totals["resp_bytes"] += count * (step["resp_bytes"] + a["response_overhead_bytes"])
    http = totals["invocations"] + (a["browser_unrouted_requests"] if ui == "pages" else 0)
    cold = totals["invocations"] * a["cold_start_rate"]
    mean_mb = sum(r[2] * r[7] for r in rows) / totals["invocations"]
    cold_billed = math.ceil(a["init_cpu_ms"] / min(1.0, mean_mb / a["full_vcpu_mb"]) + a["init_wait_ms"])
    cold_gb_s = cold * cold_billed / 1000 * mean_mb / 1024
    p = PRICES
    lines = [
        ("HTTP API requests", http * flows, "request", p["http_api_request"]),
        ("Lambda requests", totals["invocations"] * flows, "request", p["lambda_request"]),
        ("Lambda duration (arm64)", totals["gb_s"] * flows, "GB-s", p["lambda_gb_second"]),
        (f"Lambda init ({a['cold_start_rate']:.0%} cold starts, {cold_billed} ms)", cold_gb_s * flows, "GB-s",
         p["lambda_gb_second"]),
        ("DynamoDB write request units", totals["wru"] * flows, "WRU", p["dynamodb_wru"]),
        ("DynamoDB read request units", (totals["rru"] + cold) * flows, "RRU", p["dynamodb_rru"]),
        ("Secrets Manager GetSecretValue (cold starts)", cold * flows, "call", p["secrets_api_call"]),
        ("CloudWatch Logs ingested", totals["log_bytes"] * flows / 1e9, "GB", p["logs_ingested_gb"]),
        ("Data transfer out", totals["resp_bytes"] * flows / 1e9, "GB", p["data_out_gb"]),
    ]
    return rows, lines, totals, sources


def money(x):
    return f"${x:,.2f}" if x >= 0.01 or x == 0 else f"${x:.4f}"


def unit_price(x):
    return f"${x:.10f}".rstrip("0") if x < 0.01 else f"${x:,.2f}"


def print_report(ui, polls, memory, a, dirs):
    rows, lines, totals, sources = cost(ui, polls, memory, a, dirs)
    source = " and ".join(sorted(sources))
    print(f"One completed device flow, {polls} polls, person's side: "
          f"{'hosted pages (a browser)' if ui == 'pages' else 'the flow API (a custom sign-on UI)'}")
    print(f"handler ms: {source}; DynamoDB {a['store_latency_ms']:g} ms a request; SDK {a['sdk_cpu_ms']:g} ms CPU "
          f"a request; {a['invoke_cpu_ms']:g} ms CPU an invocation; CPU share = memory / {a['full_vcpu_mb']} MB")
    print()
    hdr = ("step", "function", "n", "handler ms", "DDB req", "RRU", "WRU", "MB", "duration ms", "billed ms")
    print(f"{hdr[0]:<22} {hdr[1]:<21} {hdr[2]:>3} {hdr[3]:>10} {hdr[4]:>7} {hdr[5]:>4} {hdr[6]:>4} {hdr[7]:>5} "
          f"{hdr[8]:>11} {hdr[9]:>9}")
    for name, function, count, ms, req, rru, wru, mb, wall, billed in rows:
        print(f"{name:<22} {function:<21} {count:>3} {ms:>10.3f} {req:>7} {rru:>4} {wru:>4} {mb:>5} {wall:>11.1f} "
              f"{billed:>9}")
    n = totals["invocations"]
    print(f"per flow: {n} invocations, {sum(r[2] * r[4] for r in rows)} DynamoDB requests, "
          f"{totals['rru']} RRU, {totals['wru']} WRU, {totals['gb_s'] * 1000:.1f} GB-ms")
    print()
    print(f"{'line item (1 million flows)':<46} {'units':>16} {'unit price':>15} {'cost':>10}")
    total = 0.0
    for item, units, unit, price in lines:
        c = units * price
        total += c
        print(f"{item:<46} {units:>12,.0f} {unit:<3} {unit_price(price):>15} {money(c):>10}")
    print(f"{'total':<46} {'':>16} {'':>15} {money(total):>10}")
    print(f"{'plus: the server secret, a month':<46} {1:>12} {'':<3} {unit_price(PRICES['secret_month']):>15} "
          f"{money(PRICES['secret_month']):>10}")
    return total


def recommend(ui, polls, a, dirs):
    """Cost and sign-on latency of a few memory plans."""
    print()
    print("memory plans (MB)                      cost of 1M flows   Lambda part   sign-on duration")
    sign_on = "page_post_sign_in" if ui == "pages" else "flow_sign_on"
    plans = [(f"all {mb}", {f: mb for f in MEMORY_MB}) for mb in (128, 256, 512, 1024)]
    plans.append(("recommended (MEMORY_MB)", MEMORY_MB))
    for label, plan in plans:
        rows, lines, _, _ = cost(ui, polls, plan, a, dirs)
        total = sum(u * p for _, u, _, p in lines)
        lam = sum(u * p for item, u, _, p in lines if item.startswith("Lambda"))
        wall = next(r[8] for r in rows if r[0] == sign_on)
        print(f"{label:<38} {money(total):>16} {money(lam):>13} {wall:>15.0f} ms")


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ui", choices=["pages", "api"], default="pages",
                        help="the person's side: the hosted pages (default) or the flow API")
    parser.add_argument("--polls", type=int, default=12, help="polls per flow, the last one successful")
    parser.add_argument("--memory", type=int, help="one memory size (MB) for every function")
    parser.add_argument("--store-latency-ms", type=float, help="DynamoDB round trip, ms")
    parser.add_argument("--criterion", help="criterion's output directory")
    parser.add_argument("--budget", help="request-budget output to check STEPS against ('-': stdin)")
    args = parser.parse_args()
    a = dict(ASSUMED)
    if args.store_latency_ms is not None:
        a["store_latency_ms"] = args.store_latency_ms
    memory = {f: args.memory for f in MEMORY_MB} if args.memory else MEMORY_MB
    if args.budget:
        check_budget(args.budget)
    dirs = criterion_dirs(args.criterion)
    print_report(args.ui, args.polls, memory, a, dirs)
    recommend(args.ui, args.polls, a, dirs)


if __name__ == "__main__":
    main()
