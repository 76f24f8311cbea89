#!/usr/bin/python3
"""Confluent's wire format with an independent Avro implementation (Debian's
python3-avro), for the tests of the AVRO format:

  avro_tool.py encode SCHEMA_FILE ID OUT_FILE JSON   one value, to OUT_FILE
  avro_tool.py decode SCHEMA_FILE IN_FILE            prints the id and the value as JSON
"""
import io
import json
import struct
import sys

import avro.io
import avro.schema


def main():
    command, schema_file = sys.argv[1], sys.argv[2]
    with open(schema_file) as f:
        schema = avro.schema.parse(f.read())
    if command == "encode":
        schema_id, out_file, datum = int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
        buf = io.BytesIO()
        buf.write(b"\0" + struct.pack(">I", schema_id))
        avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(buf))
        with open(out_file, "wb") as f:
            f.write(buf.getvalue())
    elif command == "decode":
        with open(sys.argv[3], "rb") as f:
            data = f.read()
        if data[0] != 0:
            sys.exit("not in the wire format: first byte %d" % data[0])
        schema_id = struct.unpack(">I", data[1:5])[0]
        reader = avro.io.DatumReader(schema)
        value = reader.read(avro.io.BinaryDecoder(io.BytesIO(data[5:])))
        print(json.dumps({"id": schema_id, "value": value}, sort_keys=True, default=str))
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
