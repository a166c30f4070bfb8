"""Parses OTLP/HTTP JSON log payloads with the official OpenTelemetry protobuf definitions
(the `opentelemetry-proto` package), so the check cannot pass on a payload a collector would
reject. Usage: python3 check_otlp.py payload.json [...]; prints a JSON summary.

OTLP/JSON writes traceId/spanId as hex, while the generic protobuf JSON mapping expects base64
for bytes fields: those two fields are converted before parsing (and checked to be hex).
"""
import base64
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest


def hex_ids_to_base64(payload):
    for rl in payload.get("resourceLogs", []):
        for sl in rl.get("scopeLogs", []):
            for rec in sl.get("logRecords", []):
                for key, size in (("traceId", 16), ("spanId", 8)):
                    if key in rec:
                        raw = bytes.fromhex(rec[key])
                        assert len(raw) == size, f"{key} has {len(raw)} bytes"
                        rec[key] = base64.b64encode(raw).decode()
    return payload


def main(paths):
    summary = {"requests": 0, "records": 0, "with_trace_id": 0, "services": set(), "bodies": []}
    for path in paths:
        payload = hex_ids_to_base64(json.load(open(path)))
        msg = json_format.Parse(json.dumps(payload), ExportLogsServiceRequest())  # strict: unknown fields fail
        summary["requests"] += 1
        for rl in msg.resource_logs:
            for a in rl.resource.attributes:
                if a.key == "service.name":
                    summary["services"].add(a.value.string_value)
            for sl in rl.scope_logs:
                for rec in sl.log_records:
                    assert rec.time_unix_nano > 1_600_000_000 * 10**9, "timestamp in ns"
                    assert rec.severity_number > 0
                    summary["records"] += 1
                    if len(rec.trace_id) == 16:
                        summary["with_trace_id"] += 1
                    summary["bodies"].append(rec.body.string_value)
    summary["services"] = sorted(summary["services"])
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
