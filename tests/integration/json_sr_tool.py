#!/usr/bin/python3
"""Confluent's wire format for JSON_SR, checked with an independent JSON
Schema validator (Debian's python3-jsonschema), for the tests of JSON_SR:

  json_sr_tool.py encode ID OUT_FILE JSON           the prefix, then JSON, to OUT_FILE
  json_sr_tool.py check SCHEMA_FILE IN_FILE         validates the JSON after the
                                                    prefix against the schema; prints
                                                    the id and the value
"""
import json
import struct
import sys

import jsonschema


def main():
    command = sys.argv[1]
    if command == "encode":
        schema_id, out_file, value = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        json.loads(value)  # JSON, or fail here
        with open(out_file, "wb") as f:
            f.write(b"\0" + struct.pack(">I", schema_id) + value.encode())
    elif command == "check":
        with open(sys.argv[2]) as f:
            schema = json.load(f)
        with open(sys.argv[3], "rb") as f:
            data = f.read()
        if len(data) < 5 or data[0] != 0:
            sys.exit("not in the wire format")
        value = json.loads(data[5:])
        jsonschema.Draft7Validator.check_schema(schema)
        jsonschema.validate(value, schema, cls=jsonschema.Draft7Validator)
        print(json.dumps({"id": struct.unpack(">I", data[1:5])[0], "value": value},
                         sort_keys=True))
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
