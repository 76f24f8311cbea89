#pragma once
// The rows of file and memory sources, as the records of the source's topic.
//
// A file line holds every column of the source in declaration order, key
// columns included:
//  - VALUE_FORMAT='DELIMITED': one CSV line (RFC 4180 quoting, VALUE_DELIMITER);
//    a first line naming the columns (case-insensitive) is a header and skipped;
//  - VALUE_FORMAT='JSON': one JSON object per line, fields matched to columns
//    case-insensitively (missing ones are NULL).
// Blank lines are skipped. A row becomes a record keyed and valued exactly as
// a producer following the source's KEY_FORMAT and VALUE_FORMAT would write
// it (sql::serdes_for), so the topic is read by the ordinary source nodes.
//
//   auto codec = SourceRowCodec::create(info);            // a SourceInfo from the catalog
//   auto rec = (*codec)->encode_line("1,alice");         // key bytes, value bytes
//   auto rec2 = (*codec)->encode_row(Value::structure({{"ID", Value::string("2")}, ...}));
//
// read_table_file / diff_tables: a table file read as a whole (last line of a
// key wins) and the records that turn one version into the next (changed or
// added keys as upserts, removed keys as tombstones).
//
// A SourceRowCodec keeps codec scratch state: one thread at a time.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/codec.hpp"
#include "runtime/error.hpp"
#include "runtime/value.hpp"
#include "sql/catalog.hpp"

namespace rivulet::sql {

struct EncodedRow {
  std::optional<std::string> key;  // nullopt: no key (a stream without KEY column)
  std::optional<std::string> value;
};

// A line that could not be read: where, and why.
struct BadLine {
  std::string path;  // the file, or "memory://NAME"
  int64_t line = 0;  // 1-based
  std::string reason;
  std::string text;  // the line (truncated to 200 bytes)

  std::string to_string() const;  // "path:line: reason"
};

class SourceRowCodec {
 public:
  static Expected<std::unique_ptr<SourceRowCodec>> create(const SourceInfo& source);

  // One line of the source's file format; nullopt for a blank line. A bad
  // line is an Error of kind Data with the reason.
  Expected<std::optional<EncodedRow>> encode_line(std::string_view line) const;
  // A row given as a STRUCT of column name -> value (names case-insensitive,
  // missing columns NULL, values coerced to the column types).
  Expected<EncodedRow> encode_row(const Value& row) const;
  // Whether `line` is a CSV header naming the columns (DELIMITED only).
  bool is_header(std::string_view line) const;

  const SourceInfo& source() const { return source_; }

 private:
  explicit SourceRowCodec(SourceInfo source) : source_(std::move(source)) {}
  Expected<EncodedRow> encode_fields(const Value& decoded) const;

  SourceInfo source_;
  std::unique_ptr<Codec> line_codec_;  // all columns: DELIMITED or JSON
  std::unique_ptr<Codec> key_codec_;
  std::unique_ptr<Codec> value_codec_;
  bool bare_key_ = true;
  bool bare_value_ = false;
};

// A table file's rows: key bytes -> value bytes, the last line of a key
// winning. Lines without a key are bad lines.
struct TableFile {
  std::map<std::string, std::string> rows;
  std::vector<BadLine> bad_lines;
  int64_t lines = 0;
};
Expected<TableFile> read_table_file(const std::string& path, const SourceRowCodec& codec);

// One record of a table's change: value nullopt is a tombstone.
struct TableChange {
  std::string key;
  std::optional<std::string> value;
};
// The records turning `before` into `after`, in key order.
std::vector<TableChange> diff_tables(const std::map<std::string, std::string>& before,
                                     const std::map<std::string, std::string>& after);

}  // namespace rivulet::sql
