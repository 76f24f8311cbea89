#pragma once
// Records of a topic as text for people, without knowing their formats:
// the SQL shell's PRINT (docs/sql-reference.md, "PRINT").
//
// As ksqlDB's PRINT does, a formatter keeps a list of the formats that could
// still have written every key (and every value) seen so far: each record
// strikes out the formats its bytes cannot be, and is shown in the first
// format left. The candidates, in that order: AVRO (with a schema registry
// set for the process: the registry's wire format, a schema id it knows,
// a datum that schema reads; shown as JSON), PROTOBUF (with a registry:
// the wire format, a PROTOBUF schema's id, message indexes, a message that
// schema reads; shown as JSON), JSON_SR (with a registry:
// the wire format, the id of a JSON schema, then JSON text), JSON,
// KAFKA_STRING (UTF-8
// text without control characters but tab and newlines), KAFKA_INT (4
// bytes, big-endian), KAFKA_BIGINT and KAFKA_DOUBLE (8 bytes); for keys,
// each also inside Kafka's windowed formats, SESSION(f), HOPPING(f) and
// TUMBLING(f), shown as `[key@start/end]` (`[key@start/-]` for time
// windows, whose end is not in the bytes).
//
// Two differences from ksqlDB's guesses, both where its guess misleads:
// text comes before the fixed-width numbers (ksqlDB shows the 4-byte key
// `late` as the KAFKA_INT 1818326117), and a windowed candidate needs
// plausible window times (from 1970 to the year 2100, a session's end not
// before its start; ksqlDB takes the last 8 bytes of any key of 9 bytes or
// more as a window's start).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rivulet::connectors {

class RecordFormatter {
 public:
  enum class Part : uint8_t { Key, Value };
  explicit RecordFormatter(Part part);
  ~RecordFormatter();

  // The bytes as text in the first format still possible (`<null>` for
  // none). Bytes no candidate can read are shown as Kafka's Bytes prints
  // them (printable ASCII, else \xNN) and strike nothing out.
  std::string format(std::optional<std::string_view> bytes);
  // The formats every non-null record seen so far could have been written
  // in, in order; empty before the first one.
  std::vector<std::string> possible_formats() const;
  // "JSON or KAFKA_STRING"; "no data processed" before the first record.
  std::string describe() const;

 private:
  struct Candidate {
    std::string name;
    int base = 0;    // index into the base formats
    int window = 0;  // 0: none, 1: session, 2: hopping, 3: tumbling
  };
  std::vector<Candidate> candidates_;
  bool seen_ = false;

 public:
  struct RegistryReader;  // record_formatter.cpp

 private:
  std::unique_ptr<RegistryReader> registry_;  // with a schema registry
};

// A record's timestamp as ksqlDB's PRINT writes it: "2026/12/04 22:30:00.123 Z"
// (UTC), or "N/A" for a negative one.
std::string format_rowtime(int64_t timestamp_ms);

}  // namespace rivulet::connectors
