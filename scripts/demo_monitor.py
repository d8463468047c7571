"""The two steps of `make demo-monitor` that are not textsift commands (textsift.monitor.demo says what they do).

    python scripts/demo_monitor.py stream data/news-snippets/test.csv demo-monitor/stream.jsonl
    python scripts/demo_monitor.py check demo-monitor/stream.plan.json demo-monitor/webhook.jsonl
"""

from __future__ import annotations

import argparse
import sys

from textsift.errors import TextsiftError
from textsift.monitor.demo import build_stream, check, plan_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    stream = verbs.add_parser("stream", help="Build the timestamped stream with its planted surge.")
    stream.add_argument("texts", help="Labelled CSV of held-out texts (test.csv of `textsift data fetch`).")
    stream.add_argument("out", help="JSONL stream to write; its plan goes beside it (.plan.json).")
    checked = verbs.add_parser("check", help="Exit 1 unless the webhook got an alert for the planted surge.")
    checked.add_argument("plan", help="The stream's .plan.json.")
    checked.add_argument("received", help="The webhook receiver's JSONL.")
    args = parser.parse_args()
    if args.verb == "stream":
        plan = build_stream(args.texts, args.out)
        print(f"{args.out}: {plan['events']} events ({plan['distinct_texts']} distinct real texts; simulated times "
              f"and sources) from {plan['start']} for {plan['days']} days; planted surge on {plan['surge_source']} "
              f"{plan['surge_start']} .. {plan['surge_end']} (plan: {plan_path(args.out)})")
        return 0
    try:
        print("\n".join(check(args.plan, args.received)))
    except TextsiftError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
