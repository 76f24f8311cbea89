#pragma once
// RowLayout: the analyser's input row of one source from a decoded record:
// its columns in schema order, key columns taken from the key. Shared by the
// planner (source rows, stream-table joins) and subqueries (table rows).
//
// Immutable after construction; any thread.
#include <cstddef>
#include <utility>
#include <vector>

#include "operators/window.hpp"
#include "runtime/data_type.hpp"
#include "runtime/record.hpp"
#include "runtime/value.hpp"
#include "sql/catalog.hpp"
#include "sql/expression.hpp"
#include "sql/format_checks.hpp"

namespace rivulet::sql {

// Whether coerce(v, t) is `v` itself: a scalar already of its column's
// kind (the common case on the hot path: no conversion, no second copy).
inline bool coerces_to_itself(const Value& v, const DataType& t) {
  switch (t.kind) {
    case TypeKind::Boolean:
    case TypeKind::Int:
    case TypeKind::BigInt:
    case TypeKind::Double:
    case TypeKind::String:
    case TypeKind::Bytes:
    case TypeKind::Timestamp:
    case TypeKind::Date:
    case TypeKind::Time:
      return v.kind() == t.kind;
    default:
      return false;
  }
}

// `v` coerced to `t`; NULL when it cannot be (or `v` is NULL, or no type).
inline Value coerce_or_null(const Value& v, const DataTypePtr& t) {
  if (v.is_null() || !t || coerces_to_itself(v, *t)) return v;
  auto c = coerce(v, *t);
  return c ? std::move(*c) : Value();
}
inline Value coerce_or_null(Value&& v, const DataTypePtr& t) {
  if (v.is_null() || !t || coerces_to_itself(v, *t)) return std::move(v);
  auto c = coerce(v, *t);
  return c ? std::move(*c) : Value();
}

class RowLayout {
 public:
  explicit RowLayout(const SourceInfo& s)
      : schema_(s.schema), kafka_value_(unwrapped_single_value(s)) {
    size_t values = 0;
    for (const Column& c : schema_.columns) {
      keys_ += c.is_key ? 1 : 0;
      value_index_.push_back(c.is_key ? 0 : values++);
    }
  }
  size_t width() const { return schema_.columns.size(); }
  bool key_column(size_t i) const { return schema_.columns[i].is_key; }

  // Column `i` (a value column, by its place in the schema) of a struct
  // value: where the source's value codec put it (the value columns in
  // declaration order, under their names), else by name as Value::field
  // finds it.
  const Value* field(const Value& value, size_t i) const {
    const StructFields& fields = value.as_struct();
    const size_t at = value_index_[i];
    if (at < fields.size() && fields[at].name == schema_.columns[i].name) return &fields[at].value;
    return value.field(schema_.columns[i].name);
  }

  // Appends the columns to `row`; `value` may be nullptr (no table row).
  void append(const Value& key, const Value* value, Array& row) const {
    for (size_t i = 0; i < schema_.columns.size(); ++i)
      push_coerced(source(key, value, i), schema_.columns[i].type, row);
  }

  // The columns of a side a join found no row for: all NULL, its key
  // columns too (ksqlDB's joiner fills the missing side with NULLs).
  void append_nulls(Array& row) const { row.resize(row.size() + width()); }

  // Column `i` of the row append() would build: coerce_or_null of what it
  // is read from (a join that builds its result without the row).
  Value column(const Value& key, const Value* value, size_t i) const {
    const Value* v = source(key, value, i);
    if (v == nullptr) return Value();
    return coerce_or_null(*v, schema_.columns[i].type);
  }

 private:
  // Where column `i` is read from: the key, a key field, a value field, the
  // whole value (a single unwrapped value); nullptr for NULL.
  const Value* source(const Value& key, const Value* value, size_t i) const {
    const Column& c = schema_.columns[i];
    if (c.is_key) {
      const Value* k = &key;
      bool wrapped = key.kind() == TypeKind::Struct &&
                     (keys_ != 1 || !c.type || c.type->kind != TypeKind::Struct);
      if (wrapped) {  // several key columns, or a DELIMITED key
        k = key.field(c.name);
        if (!k && keys_ == 1 && !key.as_struct().empty()) k = &key.as_struct()[0].value;
      } else if (keys_ != 1) {
        k = nullptr;
      }
      return k;
    }
    if (!value || value->is_null()) return nullptr;
    if (kafka_value_) return value;
    return value->kind() == TypeKind::Struct ? field(*value, i) : nullptr;
  }

  // Appends coerce_or_null(*v, t) (NULL for nullptr), copying v straight
  // into the row when it needs no coercion, as most columns do.
  static void push_coerced(const Value* v, const DataTypePtr& t, Array& row) {
    if (v == nullptr || v->is_null()) {
      row.emplace_back();
    } else if (!t || coerces_to_itself(*v, *t)) {
      row.push_back(*v);
    } else {
      auto c = coerce(*v, *t);
      row.push_back(c ? std::move(*c) : Value());
    }
  }

  Schema schema_;
  bool kafka_value_;
  int keys_ = 0;
  std::vector<size_t> value_index_;  // per column: its position among the value columns
};

// A stream record with a null value travels as a row whose columns are its
// key (values NULL) and whose extra last element is TRUE; other rows end in
// FALSE. Row slots never reach that element.
inline bool is_tombstone(const Record& r) {
  if (r.value.is_null()) return true;
  if (r.value.kind() != TypeKind::Array || r.value.as_array().empty()) return false;
  const Value& last = r.value.as_array().back();
  return last.kind() == TypeKind::Boolean && last.as_bool();
}

// A row from a table source (or a table-table join) carries no flag: only
// a null value deletes. Its last column may well be a BOOLEAN TRUE.
inline bool is_table_tombstone(const Record& r) { return r.value.is_null(); }

inline bool is_row_tombstone(const Record& r, bool table_rows) {
  return table_rows ? is_table_tombstone(r) : is_tombstone(r);
}

inline EvalRow eval_row(const Record& r) {
  EvalRow e;
  if (r.value.kind() == TypeKind::Array) {
    const Array& a = r.value.as_array();
    e.columns = a.data();
    e.column_count = a.size();
  }
  e.rowtime = r.timestamp;
  if (is_windowed_key(r.key)) {  // WINDOWSTART / WINDOWEND of a windowed key
    WindowBounds w = window_of(r.key);
    e.window_start = w.start;
    e.window_end = w.end;
  }
  e.partition = r.source.partition.value();
  e.offset = r.source.offset.value();
  e.source = &r.source;
  return e;
}

}  // namespace rivulet::sql
