#include "sql/source_rows.hpp"

#include <fstream>

#include "sql/format_checks.hpp"
#include "sql/planner.hpp"
#include "sql/text.hpp"

namespace rivulet::sql {
namespace {

char value_delimiter(const SourceInfo& s) {
  auto d = s.properties.text("VALUE_DELIMITER");
  if (!d || d->empty()) return ',';
  if (*d == "TAB") return '\t';
  if (*d == "SPACE") return ' ';
  return (*d)[0];
}

}  // namespace

std::string BadLine::to_string() const {
  return path + ":" + std::to_string(line) + ": " + reason;
}

Expected<std::unique_ptr<SourceRowCodec>> SourceRowCodec::create(const SourceInfo& source) {
  auto serdes = serdes_for(source);
  if (!serdes) return serdes.error();
  std::unique_ptr<SourceRowCodec> c(new SourceRowCodec(source));
  auto all = std::make_shared<Schema>(source.schema);
  for (Column& col : all->columns) col.is_key = false;  // a line holds every column
  if (source.value_format == "DELIMITED") {
    c->line_codec_ = make_delimited_codec(all, value_delimiter(source));
  } else {
    c->line_codec_ = make_json_codec(all);
  }
  c->key_codec_ = serdes->key();
  c->value_codec_ = serdes->value();
  c->bare_key_ = source.schema.key_columns().size() == 1 && source.key_format != "DELIMITED";
  c->bare_value_ = unwrapped_single_value(source);
  return c;
}

bool SourceRowCodec::is_header(std::string_view line) const {
  if (source_.value_format != "DELIMITED") return false;
  auto names = std::make_shared<Schema>();
  for (const Column& c : source_.schema.columns)
    names->columns.push_back(Column{c.name, DataType::of(TypeKind::String), false});
  auto header_codec = make_delimited_codec(names, value_delimiter(source_));
  auto fields = header_codec->decode(line);
  if (!fields) return false;
  const StructFields& f = fields->as_struct();
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i].value.is_null()) return false;
    std::string name = f[i].value.as_string();
    while (!name.empty() && name.back() == ' ') name.pop_back();
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    if (!iequals(name, source_.schema.columns[i].name)) return false;
  }
  return true;
}

Expected<std::optional<EncodedRow>> SourceRowCodec::encode_line(std::string_view line) const {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return std::optional<EncodedRow>{};
  auto decoded = line_codec_->decode(line);
  if (!decoded) return decoded.error();
  if (decoded->kind() != TypeKind::Struct)
    return Error::data("expected a JSON object with the source's columns");
  auto row = encode_fields(*decoded);
  if (!row) return row.error();
  return std::optional<EncodedRow>(std::move(*row));
}

Expected<EncodedRow> SourceRowCodec::encode_row(const Value& row) const {
  if (row.kind() != TypeKind::Struct)
    return Error::data("a row is a STRUCT of column name -> value");
  return encode_fields(row);
}

Expected<EncodedRow> SourceRowCodec::encode_fields(const Value& decoded) const {
  StructFields keys, values;
  bool all_keys_null = true;
  for (const Column& c : source_.schema.columns) {
    const Value* v = decoded.field(c.name);
    if (!v) {
      for (const Field& f : decoded.as_struct())
        if (iequals(f.name, c.name)) v = &f.value;
    }
    Value typed;
    if (v && !v->is_null()) {
      auto coerced = coerce(*v, *c.type);
      if (!coerced)
        return Error::data("column " + c.name + ": cannot read " + to_json(*v) + " as " +
                           c.type->to_string());
      typed = std::move(*coerced);
    }
    if (c.is_key) {
      if (!typed.is_null()) all_keys_null = false;
      if (typed.is_null() && source_.is_table())
        return Error::data("the PRIMARY KEY column " + c.name + " is NULL");
      keys.push_back(Field{c.name, std::move(typed)});
    } else {
      values.push_back(Field{c.name, std::move(typed)});
    }
  }
  EncodedRow out;
  if (!keys.empty() && !all_keys_null) {
    Value key = bare_key_ ? keys[0].value : Value::structure(std::move(keys));
    auto k = key_codec_->encode(key);
    if (!k) return k.error();
    out.key = std::move(*k);
  }
  Value value = bare_value_ && values.size() == 1 ? values[0].value
                                                  : Value::structure(std::move(values));
  auto v = value_codec_->encode(value);
  if (!v) return v.error();
  out.value = std::move(*v);
  return out;
}

Expected<TableFile> read_table_file(const std::string& path, const SourceRowCodec& codec) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::fatal(path + ": cannot read the file");
  TableFile out;
  std::string line;
  while (std::getline(in, line)) {
    ++out.lines;
    if (out.lines == 1 && codec.is_header(line)) continue;
    auto row = codec.encode_line(line);
    if (!row) {
      out.bad_lines.push_back(
          BadLine{path, out.lines, row.error().message, line.substr(0, 200)});
      continue;
    }
    if (!*row) continue;
    if (!(*row)->key) {
      out.bad_lines.push_back(BadLine{path, out.lines, "no key", line.substr(0, 200)});
      continue;
    }
    out.rows[*(*row)->key] = (*row)->value.value_or("");
  }
  return out;
}

std::vector<TableChange> diff_tables(const std::map<std::string, std::string>& before,
                                     const std::map<std::string, std::string>& after) {
  std::vector<TableChange> out;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out.push_back(TableChange{b->first, std::nullopt});  // removed
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out.push_back(TableChange{a->first, a->second});  // added
      ++a;
    } else {
      if (a->second != b->second) out.push_back(TableChange{a->first, a->second});  // changed
      ++a;
      ++b;
    }
  }
  return out;
}

}  // namespace rivulet::sql
