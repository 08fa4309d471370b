"""Workload for the bundle request-file tests: a stand-in load generator that writes its request file at the end.

argv[1]: an AIPerf profile_export.jsonl to replay; argv[2]: where to write it, every record's timestamp_ns moved by
one offset so that the first request was sent now (UTC ns), as if the run had happened during the recording.
It first idles for a second: nsys 2022.4 can hang when the application exits before its session finished
starting, which takes long on a loaded machine.
"""

import json
import sys
import time


def main():
    time.sleep(1.0)
    records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    shift = time.time_ns() - min(r["metadata"]["timestamp_ns"] for r in records)
    with open(sys.argv[2], "w") as out:
        for r in records:
            r["metadata"]["timestamp_ns"] += shift
            out.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
