#pragma once
// Protobuf: the binary encoding of one message (what the Confluent wire
// format carries after its 5-byte prefix and the message indexes) <->
// Value, on libprotobuf's DynamicMessage. The SQL side follows ksqlDB with
// Confluent's ProtobufConverter at its default settings (ProtobufData): the
// columns a .proto schema maps to, and the schema ksqlDB registers for a
// result.
//
// A schema is .proto source text, as a schema registry stores it. It is
// parsed with libprotoc's parser; its imports may name the well-known types
// compiled into libprotobuf (google/protobuf/timestamp.proto,
// wrappers.proto, ...) and the files Confluent's converter uses, bundled
// here (bundled_files()): confluent/meta.proto, confluent/type/decimal.proto,
// google/type/date.proto, google/type/timeofday.proto, and the files given
// as `imports` (a registry's schema references: import path -> .proto
// text; they come first). Any other import is a Fatal error. A schema that uses
// (confluent.field_meta) without importing confluent/meta.proto (as
// Confluent's own schema printer writes them) gets the import added.
// libprotobuf is stricter than Confluent's Java parser in one way: it
// refuses a proto3 message with two fields equal but for case and
// underscores ("order_id", "orderId"), a Fatal error here.
//
// Bad bytes are a data error, never a crash: libprotobuf parses them (with
// its nesting limit of 100 messages) and every value read from them is
// checked: UTF-8 text (proto2 strings too, where Java would substitute
// U+FFFD), timestamps, dates, times and decimals in range, and the wire
// type of every field read (protobuf's parsers, ksqlDB's included, set a
// field written with another wire type aside as unknown and read its
// default; here it is a data error). Fields the schema lacks are skipped.
//
// Keys: ksqlDB's PROTOBUF format never unwraps single fields, so a key,
// even of one column, is a message with one field per key column. To read
// or write one, pass the key columns with is_key = false to Message::make
// and schema_for (which skip key columns).
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "runtime/value.hpp"

namespace rivulet::protobuf {

// .proto files by import path: {"event.proto", "syntax = ..."}.
using ProtoFiles = std::vector<std::pair<std::string, std::string>>;

// The value columns a schema's message maps to, ksqlDB's way. `full_name`
// picks the message (ksqlDB's VALUE_SCHEMA_FULL_NAME / KEY_SCHEMA_FULL_NAME:
// "Order", "shop.Order", "shop.Order.Line"; a name without the file's
// package is looked up inside it too); empty: the first message of the file.
//
// Field names upper-cased (nested ones too); bool->BOOLEAN;
// int32, sint32, sfixed32->INT; uint32, fixed32, int64, sint64, sfixed64,
// uint64, fixed64->BIGINT (Connect's INT64; a uint64 above 2^63-1 reads as
// the negative BIGINT of the same 64 bits, as Java's long does);
// float, double->DOUBLE; string->STRING; bytes->BYTES; enum->STRING (the
// value's name; a number the enum does not define, which proto3 keeps,
// reads as "UNKNOWN_ENUM_VALUE_<Enum>_<number>", protobuf's own name for
// it); a message->STRUCT; repeated->ARRAY; map<K, V> (or Confluent's
// `repeated XEntry` of a message named ...Entry holding just `key` and
// `value`)->MAP with STRING keys (bool and integer keys read as their text,
// "true", "-12"); google.protobuf.Timestamp->TIMESTAMP (milliseconds,
// rounded down); google.type.Date->DATE; google.type.TimeOfDay->TIME;
// confluent.type.Decimal->DECIMAL(precision, scale) from the field's
// [(confluent.field_meta) = {params: [{key: "precision", value: "p"},
// {key: "scale", value: "s"}]}] (scale 0 when absent, as Confluent reads
// it); the google.protobuf wrappers (BoolValue, Int32Value, UInt32Value,
// Int64Value, UInt64Value, FloatValue, DoubleValue, StringValue,
// BytesValue)->the wrapped type as above, NULL when absent.
// A oneof is one STRUCT column named "<ONEOF>_<index>" (its index among
// the message's oneofs) with a field per member, holding only the member
// that is set (NULL when none is); the oneofs come first, then the other
// fields in their order (ProtobufData's layout). A proto3 `optional` field
// is a plain field that reads NULL when absent.
// Fatal errors name the field path and the protobuf type, e.g.
// `field ADDRESS.ZIP: protobuf group "Order.Address.Zip" has no SQL type`: a recursive
// message, a group, a map key that is not a bool, integer or string, a
// decimal field without a precision (ksqlDB would take 64 digits, more than
// DECIMAL's 38) or with more than 38 digits, two fields equal but for case,
// a message without fields at the top level, a schema libprotoc refuses, an
// unknown import, a full name the schema lacks.
Expected<std::vector<Column>> columns_of(std::string_view proto_text,
                                         std::string_view full_name = {},
                                         const ProtoFiles& imports = {});

// The schema (.proto text) ksqlDB registers for a result with these value
// columns (key columns are skipped), as Confluent's
// ProtobufData.fromConnectSchema writes it:
//   syntax = "proto3";  (then `package p;` when full_name has one, then the imports)
//   message ConnectDefault1 { <type> <COLUMN> = <position from 1>; ... }
// `full_name` (ksqlDB's *_SCHEMA_FULL_NAME) names the top message instead of
// "ConnectDefault1"; "a.b.Name" puts it in package a.b.
// BOOLEAN -> bool; INT -> int32; BIGINT -> int64; DOUBLE -> double;
// STRING -> string; BYTES -> bytes; TIMESTAMP -> google.protobuf.Timestamp;
// DATE -> google.type.Date; TIME -> google.type.TimeOfDay;
// DECIMAL(p,s) -> confluent.type.Decimal with
//   [(confluent.field_meta) = { params: [ { key: "precision", value: "p" },
//   { key: "scale", value: "s" } ] }] (and confluent/meta.proto imported, so
//   that protoc accepts it; Confluent's printer leaves that import out);
// ARRAY<T> -> repeated T;
// STRUCT -> a message nested in the one holding the field, named
//   "ConnectDefault<n>" with n counting up in the order the types are met
//   (depth first; "...Message" appended should it equal the field's name);
// MAP<STRING, V> -> `repeated ConnectDefault<n>Entry`, a nested message
//   { string key = 1; V value = 2; } (Confluent's shape, not map<>, so that
//   V may be an ARRAY or a MAP; the value keeps its DECIMAL options, which
//   Confluent's converter drops).
// A column of the NULL type is left out. Protobuf cannot nest repeated
// fields: ARRAY<ARRAY<T>> is written as `repeated T` (Confluent refuses it)
// and ARRAY<MAP<...>> as the map's repeated entries, and Message::make then
// refuses such a column against the schema (Fatal), as it does a column
// name that is not a protobuf identifier.
std::string schema_for(const std::vector<Column>& value_columns, std::string_view full_name = {});

// Confluent's message indexes, written between the wire format's 5-byte
// prefix and the message: where the message is in its schema, the first
// index among the file's top-level messages, each next one among the
// previous message's nested messages (enums, and the entry messages map<K, V>
// fields compile to, are not counted: Confluent's parser keeps maps as maps).
// Encoded as a count then the indexes,
// each a zigzag varint (Kafka's ByteUtils.writeVarint); [0], the first
// message (and the empty list, which means the same), is the single byte 0.
std::string encode_message_indexes(const std::vector<int>& indexes);
// Reads message indexes from the front of `bytes` and drops them from it.
// A count of 0 is [0]. Truncated input, a varint longer than 32 bits, a
// negative count or index, or a count larger than the bytes left: a data error.
Expected<std::vector<int>> decode_message_indexes(std::string_view& bytes);

// The indexes of the message `full_name` (empty: the first) in the schema.
// Schema errors are Fatal.
Expected<std::vector<int>> message_indexes(std::string_view proto_text,
                                           std::string_view full_name = {},
                                           const ProtoFiles& imports = {});
// The full name of the message `indexes` locate in the schema. Schema
// errors are Fatal; indexes that locate no message are a data error.
Expected<std::string> message_name(std::string_view proto_text, const std::vector<int>& indexes,
                                   const ProtoFiles& imports = {});

// The .proto files bundled for imports: {path, text} (see the top).
const std::vector<std::pair<std::string, std::string>>& bundled_files();

// One schema parsed once, converting its messages' binary encoding to and
// from Values. Not thread-safe (it reuses its scratch messages and keeps the
// read plans of the messages records select): one instance per thread, like
// the other codecs.
class Message {
 public:
  // `proto_text`: the schema the bytes were (or will be) written with.
  // `full_name`: the message encode writes and the one-argument decode reads
  // (as columns_of picks it; empty: the first message of the file); decode with
  // indexes reads the message they locate.
  // `columns`: the value columns the engine wants (key columns are skipped).
  // Decode fills them by name, case-insensitively, from the message's fields (a
  // STRUCT column from a oneof named "<oneof>_<index>"; a column named as a
  // oneof's member reads it when it is the member set, else NULL; an ARRAY of
  // STRUCTs from a map field reads its entries, KEY and VALUE; nested STRUCTs'
  // fields likewise); a column the message lacks is NULL; a field no column
  // names is skipped. Values are converted to the column's type
  // (rivulet::coerce where the kinds differ, a decimal rounded half up to the
  // column's scale; a value it cannot convert is a data error).
  // Proto3 has no nulls: an absent scalar field reads as its default (0, "",
  // false, the first enum value; a proto2 field its declared default), an
  // absent repeated field as an empty ARRAY or MAP, a map entry without its
  // value as the value's default (an empty message for a message: Java's
  // default instance), while an absent message field (wrappers and Timestamp,
  // Date, TimeOfDay, Decimal included), an unset oneof and an absent proto3
  // `optional` field read as NULL. A map key met twice: the last value, where
  // the key first stood.
  // Encode writes the columns' values into the message's fields by name (the
  // same way, a oneof's STRUCT setting its first member with a value); a NULL
  // value, or a field no column fills, is left out, so a scalar reads back as
  // its default, a message, oneof or optional field as NULL. A NULL inside an
  // ARRAY or as a MAP value, a map key that does not parse as the key type, a
  // value out of the field's range (a negative BIGINT or one of 2^32 or more
  // for a uint32, a TIMESTAMP outside the years 1 to 9999, a DATE before year
  // 1, a STRING that is not UTF-8), an enum name the enum lacks, a proto2
  // required field left out: data errors. A decimal is written at its field's
  // (confluent.field_meta) DECIMAL(p, s) (rounded half up; too wide: a data
  // error), else at its own scale, with Java's BigDecimal bytes and precision.
  // Fatal errors: a schema libprotoc refuses (as a column name that is not a
  // protobuf identifier makes schema_for's), an unknown import, a full name the
  // schema lacks, a column whose field can never be read as its type (a STRUCT
  // column from a string field, an ARRAY column from a singular field, a MAP
  // column from a repeated non-map field, anything from a group).
  // Unlike columns_of, a recursive message is fine: the columns say how deep to
  // read.
  static Expected<std::unique_ptr<Message>> make(std::string_view proto_text,
                                                 std::string_view full_name,
                                                 std::vector<Column> columns,
                                                 const ProtoFiles& imports = {});
  ~Message();
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  // A STRUCT with one field per value column, in column order, named as the
  // column (the JSON codec's shape). `message_bytes`: the bytes after the
  // message indexes; `indexes`: the record's message indexes, which select
  // the message to read ([0] or {}: the file's first message). A message
  // other than make's is read into the same columns, its read plan made on
  // first use; one that cannot be read as the columns is a data error for
  // each record that selects it. Bad bytes: a data error.
  Expected<Value> decode(std::string_view message_bytes, const std::vector<int>& indexes) const;
  // The same with make's message, whatever the indexes would say.
  Expected<Value> decode(std::string_view message_bytes) const;
  // `row`: a STRUCT of the value columns (as decode returns). The message
  // bytes only, written as make's message: the caller writes the prefix and
  // encode_message_indexes(indexes()) before them.
  Expected<std::string> encode(const Value& row) const;
  // The message indexes of make's message.
  std::vector<int> indexes() const;
  // Its full name ("shop.Order").
  const std::string& full_name() const;

 private:
  struct Impl;
  explicit Message(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rivulet::protobuf
