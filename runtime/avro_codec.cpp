// Avro binary <-> Value on avro-c (libavro). Three pieces, each walking the
// schema as this file reads it from the JSON (`Node`, with the logical types
// avro-c 1.11 does not keep) beside avro-c's compiled schema:
//  - `Validator` checks the bytes against the schema before avro-c sees them
//    (avro-c allocates whatever length a string claims, loops over any block
//    count, and crashes on an out-of-range union branch);
//  - `ReadPlan`, compiled once per (schema, columns), turns the avro_value_t
//    that avro_value_read filled into the engine's Values;
//  - `write_value` fills the avro_value_t from a row, for avro_value_write.
#include "runtime/avro_codec.hpp"

#include <avro.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "runtime/ascii.hpp"

namespace rivulet::avro {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// How deep a schema's JSON may nest (its text is configuration, but the
// walks below recurse over it).
constexpr int kMaxSchemaDepth = 1000;
// Items of arrays and maps a datum may hold beyond one per input byte: an
// item of a type encoded in no bytes at all (null, a record without fields)
// costs nothing to forge, but something to allocate.
constexpr int64_t kFreeItems = 1 << 16;
constexpr int64_t kMillisPerDay = 86'400'000;

// Error messages quote a value, but never a megabyte of it.
std::string excerpt(std::string text) {
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

// avro-c keeps its last error in one process-wide buffer (not per thread);
// it is written only when a call fails, which the checks here make rare.
std::string avro_error_text() {
  const char* text = avro_strerror();
  return (text && *text) ? text : "unknown avro-c error";
}

// --- The schema as read from its JSON --------------------------------------

enum class Logical : uint8_t {
  None,
  Decimal,
  Date,             // int
  TimeMillis,       // int
  TimeMicros,       // long
  TimestampMillis,  // long
  TimestampMicros,  // long
};

// One Avro type. Named types (record, enum, fixed) are one Node however
// often they are referenced, so a recursive record is a cycle of pointers.
struct Node {
  avro_type_t type = AVRO_NULL;
  Logical logical = Logical::None;
  int precision = 0;  // decimal
  int scale = 0;      // decimal
  int64_t fixed_size = 0;
  std::string name;                      // full name of a record, enum or fixed
  std::vector<std::string> symbols;      // enum
  std::vector<std::string> field_names;  // record, in order
  // Record: the fields' types; union: the branches; array: the items; map: the values.
  std::vector<const Node*> children;
  int null_branch = -1;           // union: the index of "null", if any
  const Json* written = nullptr;  // the JSON it was read from, for messages
};

// "the Avro type" in messages: a named type by its name, others as written.
std::string describe(const Node& n) {
  if (n.type == AVRO_RECORD || n.type == AVRO_ENUM || n.type == AVRO_FIXED) {
    return "\"" + n.name + "\"";
  }
  if (!n.written) return "type";
  std::string text = n.written->dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 120) text = text.substr(0, 117) + "...";
  return text;
}

struct SchemaTree {
  std::unique_ptr<Json> document;  // the nodes point into it
  std::vector<std::unique_ptr<Node>> nodes;
  const Node* root = nullptr;
};

// A compiled avro-c schema, released with its owner.
struct CompiledSchema {
  avro_schema_t schema = nullptr;
  CompiledSchema() = default;
  CompiledSchema(const CompiledSchema&) = delete;
  CompiledSchema& operator=(const CompiledSchema&) = delete;
  ~CompiledSchema() {
    if (schema) avro_schema_decref(schema);
  }
};

std::optional<int64_t> small_integer(const Json& j) {
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT32_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < INT32_MIN || v > INT32_MAX) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

// A logical type the underlying type does not support, or a decimal with
// an invalid precision or scale, is ignored (the Avro specification's rule,
// and what the Java implementation does).
void read_logical_type(const Json& j, Node& n) {
  auto it = j.find("logicalType");
  if (it == j.end() || !it->is_string()) return;
  const std::string& lt = it->get_ref<const std::string&>();
  if (lt == "decimal" && (n.type == AVRO_BYTES || n.type == AVRO_FIXED)) {
    auto p = j.find("precision");
    auto s = j.find("scale");
    if (p == j.end()) return;
    const auto precision = small_integer(*p);
    std::optional<int64_t> scale = int64_t{0};
    if (s != j.end()) scale = small_integer(*s);
    if (!precision || !scale || *precision < 1 || *scale < 0 || *scale > *precision) return;
    n.logical = Logical::Decimal;
    n.precision = static_cast<int>(*precision);
    n.scale = static_cast<int>(*scale);
  } else if (lt == "date" && n.type == AVRO_INT32) {
    n.logical = Logical::Date;
  } else if (lt == "time-millis" && n.type == AVRO_INT32) {
    n.logical = Logical::TimeMillis;
  } else if (lt == "time-micros" && n.type == AVRO_INT64) {
    n.logical = Logical::TimeMicros;
  } else if (lt == "timestamp-millis" && n.type == AVRO_INT64) {
    n.logical = Logical::TimestampMillis;
  } else if (lt == "timestamp-micros" && n.type == AVRO_INT64) {
    n.logical = Logical::TimestampMicros;
  }
}

std::optional<avro_type_t> primitive_type(std::string_view name) {
  if (name == "null") return AVRO_NULL;
  if (name == "boolean") return AVRO_BOOLEAN;
  if (name == "int") return AVRO_INT32;
  if (name == "long") return AVRO_INT64;
  if (name == "float") return AVRO_FLOAT;
  if (name == "double") return AVRO_DOUBLE;
  if (name == "bytes") return AVRO_BYTES;
  if (name == "string") return AVRO_STRING;
  return std::nullopt;
}

// Builds the Nodes of a schema avro-c has accepted (so the checks here are
// for safety, not for telling the user what is wrong with the schema).
class TreeBuilder {
 public:
  explicit TreeBuilder(SchemaTree& tree) : tree_(tree) {}

  Expected<const Node*> build(const Json& j, const std::string& space, int depth) {
    if (depth > kMaxSchemaDepth) {
      return Error::fatal("Avro schema nested deeper than " + std::to_string(kMaxSchemaDepth) +
                          " levels");
    }
    if (j.is_string()) {
      const std::string& s = j.get_ref<const std::string&>();
      if (auto t = primitive_type(s)) return add(*t, j);
      return reference(s, space);
    }
    if (j.is_array()) {
      Node& n = add_node(AVRO_UNION, j);
      for (const Json& branch : j) {
        auto b = build(branch, space, depth + 1);
        if (!b) return b.error();
        if ((*b)->type == AVRO_NULL && n.null_branch < 0) {
          n.null_branch = static_cast<int>(n.children.size());
        }
        n.children.push_back(*b);
      }
      return &n;
    }
    if (!j.is_object()) return Error::fatal("Avro schema: " + j.dump() + " is not a type");
    auto type_it = j.find("type");
    if (type_it == j.end()) return Error::fatal("Avro schema: a type object without \"type\"");
    if (!type_it->is_string()) return build(*type_it, space, depth + 1);
    const std::string& type = type_it->get_ref<const std::string&>();
    if (auto t = primitive_type(type)) {
      Node& n = add_node(*t, j);
      read_logical_type(j, n);
      return &n;
    }
    if (type == "record" || type == "error") return record(j, space, depth);
    if (type == "enum") {
      std::string own_space;
      auto name = full_name(j, space, &own_space);
      if (!name) return name.error();
      Node& n = add_node(AVRO_ENUM, j);
      n.name = *name;
      auto symbols = j.find("symbols");
      if (symbols == j.end() || !symbols->is_array()) {
        return Error::fatal("Avro schema: enum " + n.name + " without symbols");
      }
      for (const Json& s : *symbols) {
        if (!s.is_string()) return Error::fatal("Avro schema: enum " + n.name + " symbol");
        n.symbols.push_back(s.get<std::string>());
      }
      named_[n.name] = &n;
      return &n;
    }
    if (type == "fixed") {
      std::string own_space;
      auto name = full_name(j, space, &own_space);
      if (!name) return name.error();
      Node& n = add_node(AVRO_FIXED, j);
      n.name = *name;
      auto size = j.find("size");
      if (size == j.end() || !small_integer(*size) || *small_integer(*size) < 0) {
        return Error::fatal("Avro schema: fixed " + n.name + " without a valid size");
      }
      n.fixed_size = *small_integer(*size);
      read_logical_type(j, n);
      named_[n.name] = &n;
      return &n;
    }
    if (type == "array" || type == "map") {
      auto inner = j.find(type == "array" ? "items" : "values");
      if (inner == j.end()) return Error::fatal("Avro schema: " + type + " without its type");
      Node& n = add_node(type == "array" ? AVRO_ARRAY : AVRO_MAP, j);
      auto c = build(*inner, space, depth + 1);
      if (!c) return c.error();
      n.children.push_back(*c);
      return &n;
    }
    return reference(type, space);
  }

 private:
  Node& add_node(avro_type_t type, const Json& j) {
    tree_.nodes.push_back(std::make_unique<Node>());
    Node& n = *tree_.nodes.back();
    n.type = type;
    n.written = &j;
    return n;
  }
  const Node* add(avro_type_t type, const Json& j) { return &add_node(type, j); }

  static Expected<std::string> full_name(const Json& j, const std::string& space,
                                         std::string* own_space) {
    auto it = j.find("name");
    if (it == j.end() || !it->is_string())
      return Error::fatal("Avro schema: a named type without a name");
    const std::string& name = it->get_ref<const std::string&>();
    const size_t dot = name.rfind('.');
    if (dot != std::string::npos) {
      *own_space = name.substr(0, dot);
      return name;
    }
    std::string ns = space;
    auto ns_it = j.find("namespace");
    if (ns_it != j.end() && ns_it->is_string()) ns = ns_it->get<std::string>();
    *own_space = ns;
    return ns.empty() ? name : ns + "." + name;
  }

  Expected<const Node*> reference(const std::string& name, const std::string& space) {
    if (name.find('.') == std::string::npos && !space.empty()) {
      auto it = named_.find(space + "." + name);
      if (it != named_.end()) return it->second;
    }
    auto it = named_.find(name);
    if (it != named_.end()) return it->second;
    return Error::fatal("Avro schema: unknown type \"" + name + "\"");
  }

  Expected<const Node*> record(const Json& j, const std::string& space, int depth) {
    std::string own_space;
    auto name = full_name(j, space, &own_space);
    if (!name) return name.error();
    Node& n = add_node(AVRO_RECORD, j);
    n.name = *name;
    named_[n.name] = &n;  // before the fields: they may refer to it
    auto fields = j.find("fields");
    if (fields == j.end() || !fields->is_array()) {
      return Error::fatal("Avro schema: record " + n.name + " without fields");
    }
    for (const Json& f : *fields) {
      auto fname = f.is_object() ? f.find("name") : f.end();
      auto ftype = f.is_object() ? f.find("type") : f.end();
      if (!f.is_object() || fname == f.end() || !fname->is_string() || ftype == f.end()) {
        return Error::fatal("Avro schema: record " + n.name + " has a field without name or type");
      }
      auto t = build(*ftype, own_space, depth + 1);
      if (!t) return t.error();
      n.field_names.push_back(fname->get<std::string>());
      n.children.push_back(*t);
    }
    return &n;
  }

  SchemaTree& tree_;
  std::map<std::string, const Node*> named_;
};

// Whether the Nodes describe the encoding avro-c's compiled schema reads:
// the bytes are checked against the Nodes, then read by avro-c, so the two
// must agree on every type, field count, branch count and size.
bool same_shape(const Node& n, avro_schema_t s,
                std::set<std::pair<const Node*, avro_schema_t>>& seen, int depth) {
  while (s && is_avro_link(s)) s = avro_schema_link_target(s);
  if (!s || depth > kMaxSchemaDepth || avro_typeof(s) != n.type) return false;
  if (!seen.insert({&n, s}).second) return true;  // a named type met again
  switch (n.type) {
    case AVRO_RECORD:
      if (avro_schema_record_size(s) != n.children.size()) return false;
      for (size_t i = 0; i < n.children.size(); ++i) {
        avro_schema_t f = avro_schema_record_field_get_by_index(s, static_cast<int>(i));
        if (!same_shape(*n.children[i], f, seen, depth + 1)) return false;
      }
      return true;
    case AVRO_UNION:
      if (avro_schema_union_size(s) != n.children.size()) return false;
      for (size_t i = 0; i < n.children.size(); ++i) {
        avro_schema_t b = avro_schema_union_branch(s, static_cast<int>(i));
        if (!same_shape(*n.children[i], b, seen, depth + 1)) return false;
      }
      return true;
    case AVRO_ARRAY:
      return same_shape(*n.children.at(0), avro_schema_array_items(s), seen, depth + 1);
    case AVRO_MAP:
      return same_shape(*n.children.at(0), avro_schema_map_values(s), seen, depth + 1);
    case AVRO_ENUM:
      return avro_schema_enum_number_of_symbols(s) == static_cast<int>(n.symbols.size());
    case AVRO_FIXED:
      return avro_schema_fixed_size(s) == n.fixed_size;
    default:
      return true;
  }
}

// Parses the schema's JSON, compiles it with avro-c (into `compiled`, when
// given) and builds its Nodes. Every error is Fatal: the schema is
// configuration.
Expected<SchemaTree> parse_schema(std::string_view text, CompiledSchema* compiled) {
  SchemaTree tree;
  tree.document = std::make_unique<Json>();
  try {
    *tree.document = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    return Error::fatal(std::string("Avro schema is not valid JSON: ") + e.what());
  }
  CompiledSchema local;
  CompiledSchema& target = compiled ? *compiled : local;
  if (avro_schema_from_json_length(text.data(), text.size(), &target.schema) != 0) {
    target.schema = nullptr;
    return Error::fatal("invalid Avro schema: " + avro_error_text());
  }
  TreeBuilder builder(tree);
  auto root = builder.build(*tree.document, "", 0);
  if (!root) return root.error();
  tree.root = *root;
  std::set<std::pair<const Node*, avro_schema_t>> seen;
  if (!same_shape(*tree.root, target.schema, seen, 0)) {
    return Error::fatal("Avro schema: avro-c reads it differently from this codec");
  }
  return tree;
}

std::string path_prefix(const std::string& path) {
  return path.empty() ? std::string("top level: ") : "field " + path + ": ";
}

// --- columns_of --------------------------------------------------------------

class SqlTypes {
 public:
  Expected<DataTypePtr> of(const Node& n, const std::string& path) {
    switch (n.type) {
      case AVRO_NULL:
        return no_type(n, path);
      case AVRO_BOOLEAN:
        return DataType::of(TypeKind::Boolean);
      case AVRO_INT32:
        if (n.logical == Logical::Date) return DataType::of(TypeKind::Date);
        if (n.logical == Logical::TimeMillis) return DataType::of(TypeKind::Time);
        return DataType::of(TypeKind::Int);
      case AVRO_INT64:
        if (n.logical == Logical::TimestampMillis || n.logical == Logical::TimestampMicros) {
          return DataType::of(TypeKind::Timestamp);
        }
        if (n.logical == Logical::TimeMicros) return DataType::of(TypeKind::Time);
        return DataType::of(TypeKind::BigInt);
      case AVRO_FLOAT:
      case AVRO_DOUBLE:
        return DataType::of(TypeKind::Double);
      case AVRO_STRING:
      case AVRO_ENUM:
        return DataType::of(TypeKind::String);
      case AVRO_BYTES:
      case AVRO_FIXED:
        if (n.logical == Logical::Decimal) {
          if (n.precision > Decimal::kMaxPrecision) {
            return Error::fatal(path_prefix(path) + "Avro " + describe(n) + " has precision " +
                                std::to_string(n.precision) + ", more than DECIMAL's " +
                                std::to_string(Decimal::kMaxPrecision) + " digits");
          }
          return DataType::decimal(n.precision, n.scale);
        }
        return DataType::of(TypeKind::Bytes);
      case AVRO_ARRAY:
      case AVRO_MAP: {
        auto element = of(*n.children.at(0), path);
        if (!element) return element.error();
        return n.type == AVRO_ARRAY ? DataType::array(*element) : DataType::map(*element);
      }
      case AVRO_UNION: {
        const Node* only = nullptr;
        size_t others = 0;
        for (const Node* b : n.children) {
          if (b->type == AVRO_NULL) continue;
          only = b;
          ++others;
        }
        if (others != 1) return no_type(n, path);
        return of(*only, path);
      }
      case AVRO_RECORD: {
        if (!open_.insert(&n).second) {
          return Error::fatal(path_prefix(path) + "recursive Avro record " + describe(n) +
                              " has no SQL type");
        }
        auto fields = fields_of(n, path);
        open_.erase(&n);
        if (!fields) return fields.error();
        return DataType::structure_of(*fields);
      }
      default:
        return no_type(n, path);
    }
  }

  Expected<std::vector<Column>> columns(const Node& root) {
    open_.insert(&root);
    return fields_of(root, "");
  }

 private:
  Expected<std::vector<Column>> fields_of(const Node& record, const std::string& path) {
    std::vector<Column> out;
    for (size_t i = 0; i < record.children.size(); ++i) {
      std::string name = ascii_upper(record.field_names[i]);
      const std::string field_path = path.empty() ? name : path + "." + name;
      for (const auto& c : out) {
        if (c.name == name) {
          return Error::fatal(path_prefix(field_path) + "two fields of Avro record " +
                              describe(record) + " have this name but for case");
        }
      }
      auto t = of(*record.children[i], field_path);
      if (!t) return t.error();
      out.push_back(Column{std::move(name), std::move(*t), false});
    }
    return out;
  }

  static Error no_type(const Node& n, const std::string& path) {
    const char* what = n.type == AVRO_UNION ? "union " : "";
    return Error::fatal(path_prefix(path) + "Avro " + what + describe(n) + " has no SQL type");
  }
  std::set<const Node*> open_;  // the records being mapped, outermost first
};

// --- schema_for ----------------------------------------------------------------

class SchemaWriter {
 public:
  OrderedJson schema(const std::vector<Column>& columns) {
    const std::string top = "KsqlDataSourceSchema";
    used_.insert(top);
    OrderedJson fields = OrderedJson::array();
    for (const auto& c : columns) {
      if (c.is_key) continue;
      fields.push_back(field(c.name, c.type.get(), top + "_" + c.name));
    }
    OrderedJson out;
    out["type"] = "record";
    out["name"] = top;
    out["namespace"] = "io.confluent.ksql.avro_schemas";
    out["fields"] = std::move(fields);
    return out;
  }

 private:
  OrderedJson field(const std::string& name, const DataType* t, const std::string& record_name) {
    OrderedJson f;
    f["name"] = name;
    f["type"] = nullable(t, record_name);
    f["default"] = nullptr;
    return f;
  }

  OrderedJson nullable(const DataType* t, const std::string& record_name) {
    if (!t || t->kind == TypeKind::Null) return "null";
    return OrderedJson::array({"null", type_of(*t, record_name)});
  }

  static OrderedJson logical(const char* type, const char* logical_type) {
    OrderedJson j;
    j["type"] = type;
    j["logicalType"] = logical_type;
    return j;
  }

  OrderedJson type_of(const DataType& t, const std::string& record_name) {
    switch (t.kind) {
      case TypeKind::Null:
        return "null";
      case TypeKind::Boolean:
        return "boolean";
      case TypeKind::Int:
        return "int";
      case TypeKind::BigInt:
        return "long";
      case TypeKind::Double:
        return "double";
      case TypeKind::String:
        return "string";
      case TypeKind::Bytes:
        return "bytes";
      case TypeKind::Decimal: {
        OrderedJson j = logical("bytes", "decimal");
        j["precision"] = t.precision;
        j["scale"] = t.scale;
        return j;
      }
      case TypeKind::Timestamp:
        return logical("long", "timestamp-millis");
      case TypeKind::Date:
        return logical("int", "date");
      case TypeKind::Time:
        return logical("int", "time-millis");
      case TypeKind::Array: {
        OrderedJson j;
        j["type"] = "array";
        j["items"] = nullable(t.element.get(), record_name);
        return j;
      }
      case TypeKind::Map: {
        OrderedJson j;
        j["type"] = "map";
        j["values"] = nullable(t.element.get(), record_name);
        return j;
      }
      case TypeKind::Struct: {
        OrderedJson j;
        j["type"] = "record";
        j["name"] = unique(record_name);
        OrderedJson fields = OrderedJson::array();
        for (const auto& f : t.fields) {
          fields.push_back(field(f.name, f.type.get(), record_name + "_" + f.name));
        }
        j["fields"] = std::move(fields);
        return j;
      }
    }
    return "null";
  }

  // Avro forbids defining a name twice: a column "A_B" and field B of a
  // column A would both be "KsqlDataSourceSchema_A_B"; the second gets a
  // suffix.
  std::string unique(const std::string& name) {
    if (used_.insert(name).second) return name;
    for (int i = 2;; ++i) {
      std::string candidate = name + "_" + std::to_string(i);
      if (used_.insert(candidate).second) return candidate;
    }
  }

  std::set<std::string> used_;
};

// --- Checking bytes before avro-c reads them --------------------------------

class Validator {
 public:
  explicit Validator(std::string_view bytes)
      : data_(reinterpret_cast<const unsigned char*>(bytes.data())),
        size_(bytes.size()),
        items_left_(static_cast<int64_t>(bytes.size()) + kFreeItems) {}

  bool datum(const Node& root) {
    if (!value(root, 1)) return false;
    if (pos_ != size_) {
      return fail(std::to_string(size_ - pos_) + " bytes after the end of the datum");
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool fail(const std::string& what) {
    error_ = "invalid Avro at byte " + std::to_string(pos_) + ": " + what;
    return false;
  }
  size_t left() const { return size_ - pos_; }

  bool varint(int64_t& out, const char* what) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= size_) return fail(std::string("the input ends inside ") + what);
      const unsigned char b = data_[pos_++];
      if (shift == 63 && b > 1) return fail(std::string(what) + " is longer than 64 bits");
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        out = static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
        return true;
      }
    }
    return fail(std::string(what) + " is longer than 64 bits");
  }

  bool skip(uint64_t n, const char* what) {
    if (n > left()) {
      return fail(std::string(what) + " of " + std::to_string(n) + " bytes runs past the end (" +
                  std::to_string(left()) + " bytes left)");
    }
    pos_ += n;
    return true;
  }

  bool length_prefixed(const char* what) {
    int64_t n = 0;
    if (!varint(n, what)) return false;
    if (n < 0) return fail(std::string(what) + " has a negative length " + std::to_string(n));
    return skip(static_cast<uint64_t>(n), what);
  }

  bool value(const Node& n, int depth) {
    switch (n.type) {
      case AVRO_NULL:
        return true;
      case AVRO_BOOLEAN:
        if (pos_ >= size_) return fail("the input ends inside a boolean");
        if (data_[pos_] > 1) return fail("a boolean is neither 0 nor 1");
        ++pos_;
        return true;
      case AVRO_INT32: {
        int64_t v = 0;
        if (!varint(v, "an int")) return false;
        if (v < INT32_MIN || v > INT32_MAX) return fail("an int is out of 32-bit range");
        return true;
      }
      case AVRO_INT64: {
        int64_t v = 0;
        return varint(v, "a long");
      }
      case AVRO_FLOAT:
        return skip(4, "a float");
      case AVRO_DOUBLE:
        return skip(8, "a double");
      case AVRO_STRING:
        return length_prefixed("a string");
      case AVRO_BYTES:
        return length_prefixed("a bytes value");
      case AVRO_FIXED:
        return skip(static_cast<uint64_t>(n.fixed_size), "a fixed value");
      case AVRO_ENUM: {
        int64_t i = 0;
        if (!varint(i, "an enum index")) return false;
        if (i < 0 || static_cast<uint64_t>(i) >= n.symbols.size()) {
          return fail("enum index " + std::to_string(i) + " out of range for " + describe(n));
        }
        return true;
      }
      case AVRO_UNION: {
        int64_t i = 0;
        if (!varint(i, "a union branch")) return false;
        if (i < 0 || static_cast<uint64_t>(i) >= n.children.size()) {
          return fail("union branch " + std::to_string(i) + " out of range for " + describe(n));
        }
        return value(*n.children[static_cast<size_t>(i)], depth);
      }
      case AVRO_RECORD:
        if (depth > kMaxValueDepth) return too_deep();
        for (const Node* field : n.children) {
          if (!value(*field, depth + 1)) return false;
        }
        return true;
      case AVRO_ARRAY:
      case AVRO_MAP:
        if (depth > kMaxValueDepth) return too_deep();
        return blocks(n, depth);
      default:
        return fail("unsupported Avro type");
    }
  }

  bool too_deep() {
    return fail("values nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }

  bool blocks(const Node& n, int depth) {
    const bool map = n.type == AVRO_MAP;
    for (;;) {
      int64_t count = 0;
      if (!varint(count, "a block count")) return false;
      if (count == 0) return true;
      if (count < 0) {
        if (count == INT64_MIN) return fail("block count out of range");
        count = -count;
        int64_t block_bytes = 0;
        if (!varint(block_bytes, "a block size")) return false;
        if (block_bytes < 0) return fail("negative block size");
      }
      if (count > items_left_) {
        return fail(std::string(map ? "map" : "array") + " block of " + std::to_string(count) +
                    " items is more than the input can hold");
      }
      items_left_ -= count;
      for (int64_t i = 0; i < count; ++i) {
        if (map && !length_prefixed("a map key")) return false;
        if (!value(*n.children[0], depth + 1)) return false;
      }
    }
  }

  const unsigned char* data_;
  size_t size_;
  size_t pos_ = 0;
  int64_t items_left_;
  std::string error_;
};

// --- Reading: avro_value_t -> Value ----------------------------------------------

// How one Avro type (of the writer schema) becomes one SQL type (a column's
// or a struct field's). Compiled once by Datum::make.
struct ReadPlan {
  const Node* node = nullptr;
  const DataType* target = nullptr;
  std::string path;  // "ADDRESS.ZIP", for messages
  // Union: one plan per branch; null for the "null" branch and for branches
  // that cannot be read as the target (reading one is a data error).
  std::vector<std::unique_ptr<ReadPlan>> branches;
  // Record read as a STRUCT: per target field, the record's field index (or
  // -1: NULL) and its plan.
  std::vector<int> source_field;
  std::vector<std::unique_ptr<ReadPlan>> fields;
  std::unique_ptr<ReadPlan> element;  // array items, map values
};

// The record field a column or struct field names: the same name first,
// then the first equal but for case.
int find_field(const std::vector<std::string>& names, std::string_view name) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (iequals(names[i], name)) return static_cast<int>(i);
  }
  return -1;
}

Expected<std::unique_ptr<ReadPlan>> compile_read(const Node& n, const DataType& target,
                                                 const std::string& path, int depth) {
  if (depth > kMaxSchemaDepth) return Error::fatal(path_prefix(path) + "types nested too deeply");
  auto plan = std::make_unique<ReadPlan>();
  plan->node = &n;
  plan->target = &target;
  plan->path = path;
  auto incompatible = [&] {
    return Error::fatal(path_prefix(path) + "Avro " + describe(n) + " cannot be read as " +
                        target.to_string());
  };
  if (n.type == AVRO_UNION) {
    std::optional<Error> first_error;
    bool readable = n.children.size() == (n.null_branch >= 0 ? 1u : 0u);
    for (const Node* b : n.children) {
      if (b->type == AVRO_NULL) {
        plan->branches.emplace_back();
        continue;
      }
      auto c = compile_read(*b, target, path, depth + 1);
      if (c) {
        readable = true;
        plan->branches.push_back(std::move(*c));
      } else {
        if (!first_error) first_error = c.error();
        plan->branches.emplace_back();
      }
    }
    if (!readable && first_error) return *first_error;
    return plan;
  }
  if (n.type == AVRO_NULL || target.kind == TypeKind::Null) return plan;
  switch (target.kind) {
    case TypeKind::Struct:
      if (n.type != AVRO_RECORD) return incompatible();
      for (const auto& f : target.fields) {
        const int i = find_field(n.field_names, f.name);
        plan->source_field.push_back(i);
        if (i < 0 || !f.type) {
          plan->fields.emplace_back();
          continue;
        }
        auto c = compile_read(*n.children[static_cast<size_t>(i)], *f.type,
                              path.empty() ? f.name : path + "." + f.name, depth + 1);
        if (!c) return c.error();
        plan->fields.push_back(std::move(*c));
      }
      return plan;
    case TypeKind::Array:
    case TypeKind::Map: {
      if (n.type != (target.kind == TypeKind::Array ? AVRO_ARRAY : AVRO_MAP) || !target.element) {
        return incompatible();
      }
      auto c = compile_read(*n.children.at(0), *target.element, path, depth + 1);
      if (!c) return c.error();
      plan->element = std::move(*c);
      return plan;
    }
    default:
      if (n.type == AVRO_RECORD || n.type == AVRO_ARRAY || n.type == AVRO_MAP) {
        return incompatible();
      }
      return plan;
  }
}

Error read_failure(const ReadPlan& p) {
  return Error::data(path_prefix(p.path) + "cannot read Avro " + describe(*p.node) + ": " +
                     avro_error_text());
}

// An Avro decimal as a Decimal at the schema's scale.
Expected<Value> decimal_value(const ReadPlan& p, const void* data, size_t size) {
  const Node& n = *p.node;
  auto unscaled = i128_from_twos_complement(std::string_view(static_cast<const char*>(data), size));
  if (!unscaled || n.scale > Decimal::kMaxPrecision ||
      digits_i128(*unscaled) > Decimal::kMaxPrecision) {
    return Error::data(path_prefix(p.path) + "Avro decimal of " + std::to_string(size) +
                       " bytes is not a DECIMAL of at most " +
                       std::to_string(Decimal::kMaxPrecision) + " digits");
  }
  int precision = std::min(n.precision, Decimal::kMaxPrecision);
  precision = std::max({precision, digits_i128(*unscaled), n.scale, 1});
  return Value::decimal(Decimal(*unscaled, precision, n.scale));
}

int64_t floor_div_1000(int64_t v) {
  int64_t q = v / 1000;
  if (v % 1000 < 0) --q;
  return q;
}

// The Avro scalar as the Value of its own SQL type.
Expected<Value> natural_value(const ReadPlan& p, avro_value_t& v) {
  const Node& n = *p.node;
  switch (n.type) {
    case AVRO_BOOLEAN: {
      int b = 0;
      if (avro_value_get_boolean(&v, &b) != 0) return read_failure(p);
      return Value::boolean(b != 0);
    }
    case AVRO_INT32: {
      int32_t i = 0;
      if (avro_value_get_int(&v, &i) != 0) return read_failure(p);
      if (n.logical == Logical::Date) return Value::date(i);
      if (n.logical == Logical::TimeMillis) {
        if (i < 0 || i >= kMillisPerDay) {
          return Error::data(path_prefix(p.path) + "Avro time-millis " + std::to_string(i) +
                             " is not a time of day");
        }
        return Value::time(i);
      }
      return Value::int32(i);
    }
    case AVRO_INT64: {
      int64_t l = 0;
      if (avro_value_get_long(&v, &l) != 0) return read_failure(p);
      switch (n.logical) {
        case Logical::TimestampMillis:
          return Value::timestamp(l);
        case Logical::TimestampMicros:
          return Value::timestamp(floor_div_1000(l));
        case Logical::TimeMicros: {
          const int64_t ms = floor_div_1000(l);
          if (ms < 0 || ms >= kMillisPerDay) {
            return Error::data(path_prefix(p.path) + "Avro time-micros " + std::to_string(l) +
                               " is not a time of day");
          }
          return Value::time(static_cast<int32_t>(ms));
        }
        default:
          return Value::int64(l);
      }
    }
    case AVRO_FLOAT: {
      float f = 0;
      if (avro_value_get_float(&v, &f) != 0) return read_failure(p);
      return Value::float64(static_cast<double>(f));
    }
    case AVRO_DOUBLE: {
      double d = 0;
      if (avro_value_get_double(&v, &d) != 0) return read_failure(p);
      return Value::float64(d);
    }
    case AVRO_STRING: {
      const char* s = nullptr;
      size_t size = 0;  // with the terminating NUL
      if (avro_value_get_string(&v, &s, &size) != 0) return read_failure(p);
      return Value::string((s && size > 0) ? std::string(s, size - 1) : std::string());
    }
    case AVRO_ENUM: {
      int i = 0;
      if (avro_value_get_enum(&v, &i) != 0) return read_failure(p);
      if (i < 0 || static_cast<size_t>(i) >= n.symbols.size()) {
        return Error::data(path_prefix(p.path) + "enum index out of range");
      }
      return Value::string(n.symbols[static_cast<size_t>(i)]);
    }
    case AVRO_BYTES:
    case AVRO_FIXED: {
      const void* data = nullptr;
      size_t size = 0;
      const int rc = n.type == AVRO_BYTES ? avro_value_get_bytes(&v, &data, &size)
                                          : avro_value_get_fixed(&v, &data, &size);
      if (rc != 0) return read_failure(p);
      if (n.logical == Logical::Decimal) return decimal_value(p, data, size);
      return Value::bytes(data ? std::string(static_cast<const char*>(data), size) : std::string());
    }
    default:
      return Error::data(path_prefix(p.path) + "unexpected Avro " + describe(n));
  }
}

Expected<Value> read_value(const ReadPlan& p, avro_value_t& v) {
  const Node& n = *p.node;
  const DataType& target = *p.target;
  if (n.type == AVRO_UNION) {
    int d = -1;
    avro_value_t branch;
    if (avro_value_get_discriminant(&v, &d) != 0 ||
        avro_value_get_current_branch(&v, &branch) != 0) {
      return read_failure(p);
    }
    if (d < 0 || static_cast<size_t>(d) >= n.children.size()) {
      return Error::data(path_prefix(p.path) + "union branch out of range");
    }
    const Node& b = *n.children[static_cast<size_t>(d)];
    if (b.type == AVRO_NULL) return Value();
    const ReadPlan* bp = p.branches[static_cast<size_t>(d)].get();
    if (!bp) {
      return Error::data(path_prefix(p.path) + "Avro " + describe(b) + " cannot be read as " +
                         target.to_string());
    }
    return read_value(*bp, branch);
  }
  if (n.type == AVRO_NULL || target.kind == TypeKind::Null) return Value();
  switch (target.kind) {
    case TypeKind::Struct: {
      StructFields out;
      out.reserve(target.fields.size());
      for (size_t i = 0; i < target.fields.size(); ++i) {
        const int source = p.source_field[i];
        if (source < 0 || !p.fields[i]) {
          out.push_back(Field{target.fields[i].name, Value()});
          continue;
        }
        avro_value_t child;
        if (avro_value_get_by_index(&v, static_cast<size_t>(source), &child, nullptr) != 0) {
          return read_failure(p);
        }
        auto r = read_value(*p.fields[i], child);
        if (!r) return r.error();
        out.push_back(Field{target.fields[i].name, std::move(*r)});
      }
      return Value::structure(std::move(out));
    }
    case TypeKind::Array:
    case TypeKind::Map: {
      size_t size = 0;
      if (avro_value_get_size(&v, &size) != 0) return read_failure(p);
      Array items;
      MapEntries entries;
      const bool is_map = target.kind == TypeKind::Map;
      if (is_map) {
        entries.reserve(size);
      } else {
        items.reserve(size);
      }
      for (size_t i = 0; i < size; ++i) {
        avro_value_t child;
        const char* key = nullptr;
        if (avro_value_get_by_index(&v, i, &child, &key) != 0) return read_failure(p);
        auto r = read_value(*p.element, child);
        if (!r) return r.error();
        if (is_map) {
          entries.emplace_back(key ? key : "", std::move(*r));
        } else {
          items.push_back(std::move(*r));
        }
      }
      return is_map ? Value::map(std::move(entries)) : Value::array(std::move(items));
    }
    default:
      break;
  }
  auto natural = natural_value(p, v);
  if (!natural) return natural;
  if (natural->kind() == target.kind && target.kind != TypeKind::Decimal) return natural;
  auto converted = coerce(*natural, target);
  if (!converted) {
    return Error::data(path_prefix(p.path) + "cannot read Avro " + describe(n) + " value " +
                       excerpt(natural->to_string()) + " as " + target.to_string());
  }
  return std::move(*converted);
}

// --- Writing: Value -> avro_value_t ------------------------------------------------

// Where a value is written, for messages: built only when one is needed.
struct PathLink {
  const PathLink* parent;
  std::string_view name;
  std::string to_string() const {
    std::string head = parent ? parent->to_string() : std::string();
    if (name.empty()) return head;
    return head.empty() ? std::string(name) : head + "." + std::string(name);
  }
};

// The SQL kind an Avro type reads as: a union branch of the value's own
// kind is preferred when writing.
TypeKind natural_kind(const Node& n) {
  switch (n.type) {
    case AVRO_BOOLEAN:
      return TypeKind::Boolean;
    case AVRO_INT32:
      if (n.logical == Logical::Date) return TypeKind::Date;
      if (n.logical == Logical::TimeMillis) return TypeKind::Time;
      return TypeKind::Int;
    case AVRO_INT64:
      if (n.logical == Logical::TimestampMillis || n.logical == Logical::TimestampMicros) {
        return TypeKind::Timestamp;
      }
      if (n.logical == Logical::TimeMicros) return TypeKind::Time;
      return TypeKind::BigInt;
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
      return TypeKind::Double;
    case AVRO_STRING:
    case AVRO_ENUM:
      return TypeKind::String;
    case AVRO_BYTES:
    case AVRO_FIXED:
      return n.logical == Logical::Decimal ? TypeKind::Decimal : TypeKind::Bytes;
    case AVRO_RECORD:
      return TypeKind::Struct;
    case AVRO_ARRAY:
      return TypeKind::Array;
    case AVRO_MAP:
      return TypeKind::Map;
    default:
      return TypeKind::Null;
  }
}

class ValueWriter {
 public:
  // Writes v into dest (of Avro type n); false with error() set when it cannot.
  bool write(const Node& n, const Value& v, avro_value_t& dest, const PathLink& path) {
    if (n.type == AVRO_UNION) return write_union(n, v, dest, path);
    if (v.is_null()) {
      if (n.type == AVRO_NULL) return check(avro_value_set_null(&dest), n, path);
      return fail(path, "NULL for a non-nullable Avro " + describe(n));
    }
    switch (n.type) {
      case AVRO_NULL:
        return fail(path, "Avro \"null\" cannot hold " + excerpt(v.to_string()));
      case AVRO_RECORD: {
        if (v.kind() != TypeKind::Struct) return mismatch(n, v, path);
        static const Value kNull;
        for (size_t i = 0; i < n.children.size(); ++i) {
          avro_value_t child;
          if (avro_value_get_by_index(&dest, i, &child, nullptr) != 0) return failed(n, path);
          const Value* f = v.field(n.field_names[i]);
          if (!write(*n.children[i], f ? *f : kNull, child, PathLink{&path, n.field_names[i]})) {
            return false;
          }
        }
        return true;
      }
      case AVRO_ARRAY: {
        if (v.kind() != TypeKind::Array) return mismatch(n, v, path);
        if (avro_value_reset(&dest) != 0) return failed(n, path);
        for (const Value& item : v.as_array()) {
          avro_value_t child;
          if (avro_value_append(&dest, &child, nullptr) != 0) return failed(n, path);
          if (!write(*n.children[0], item, child, path)) return false;
        }
        return true;
      }
      case AVRO_MAP: {
        if (v.kind() != TypeKind::Map) return mismatch(n, v, path);
        if (avro_value_reset(&dest) != 0) return failed(n, path);
        for (const auto& [key, item] : v.as_map()) {
          if (key.find('\0') != std::string::npos) {
            return fail(path, "a map key holds a NUL character, which avro-c cannot write");
          }
          avro_value_t child;
          if (avro_value_add(&dest, key.c_str(), &child, nullptr, nullptr) != 0) {
            return failed(n, path);
          }
          if (!write(*n.children[0], item, child, path)) return false;
        }
        return true;
      }
      default:
        return write_scalar(n, v, dest, path);
    }
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(const PathLink& path, const std::string& what) {
    error_ = path_prefix(path.to_string()) + what;
    return false;
  }
  bool failed(const Node& n, const PathLink& path) {
    return fail(path, "cannot write Avro " + describe(n) + ": " + avro_error_text());
  }
  bool check(int rc, const Node& n, const PathLink& path) {
    return rc == 0 ? true : failed(n, path);
  }
  bool mismatch(const Node& n, const Value& v, const PathLink& path) {
    return fail(path, std::string("cannot write ") + type_kind_name(v.kind()) + " value " +
                          excerpt(v.to_string()) + " as Avro " + describe(n));
  }

  bool write_union(const Node& n, const Value& v, avro_value_t& dest, const PathLink& path) {
    avro_value_t branch;
    if (v.is_null()) {
      if (n.null_branch < 0) return fail(path, "NULL for a non-nullable Avro union " + describe(n));
      if (avro_value_set_branch(&dest, n.null_branch, &branch) != 0) return failed(n, path);
      return check(avro_value_set_null(&branch), n, path);
    }
    // The branches of the value's own kind first, then any other that takes it.
    std::string first_error;
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i = 0; i < n.children.size(); ++i) {
        const Node& b = *n.children[i];
        if (b.type == AVRO_NULL) continue;
        if ((natural_kind(b) == v.kind()) != (pass == 0)) continue;
        if (avro_value_set_branch(&dest, static_cast<int>(i), &branch) != 0) {
          return failed(n, path);
        }
        if (write(b, v, branch, path)) return true;
        if (first_error.empty()) first_error = error_;
      }
    }
    if (first_error.empty()) {
      return fail(path,
                  "Avro union " + describe(n) + " has no branch for " + excerpt(v.to_string()));
    }
    error_ = first_error;
    return false;
  }

  // v as a value of `type`, or nullopt (with the error set).
  std::optional<Value> as(const DataType& type, const Node& n, const Value& v,
                          const PathLink& path) {
    if (v.kind() == type.kind && type.kind != TypeKind::Decimal) return v;
    auto c = coerce(v, type);
    if (!c) mismatch(n, v, path);
    return c;
  }

  bool write_scalar(const Node& n, const Value& v, avro_value_t& dest, const PathLink& path) {
    switch (n.type) {
      case AVRO_BOOLEAN: {
        auto b = as(DataType::plain(TypeKind::Boolean), n, v, path);
        return b && check(avro_value_set_boolean(&dest, b->as_bool() ? 1 : 0), n, path);
      }
      case AVRO_INT32: {
        int32_t i = 0;
        if (n.logical == Logical::Date) {
          auto d = as(DataType::plain(TypeKind::Date), n, v, path);
          if (!d) return false;
          i = d->as_date();
        } else if (n.logical == Logical::TimeMillis) {
          auto t = as(DataType::plain(TypeKind::Time), n, v, path);
          if (!t) return false;
          i = t->as_time();
        } else {
          auto x = as(DataType::plain(TypeKind::Int), n, v, path);
          if (!x) return false;
          i = x->as_int32();
        }
        return check(avro_value_set_int(&dest, i), n, path);
      }
      case AVRO_INT64: {
        int64_t l = 0;
        if (n.logical == Logical::TimestampMillis || n.logical == Logical::TimestampMicros) {
          auto t = as(DataType::plain(TypeKind::Timestamp), n, v, path);
          if (!t) return false;
          l = t->as_timestamp();
          if (n.logical == Logical::TimestampMicros && __builtin_mul_overflow(l, 1000, &l)) {
            return fail(path, "TIMESTAMP " + std::to_string(t->as_timestamp()) +
                                  " is out of range for Avro timestamp-micros");
          }
        } else if (n.logical == Logical::TimeMicros) {
          auto t = as(DataType::plain(TypeKind::Time), n, v, path);
          if (!t) return false;
          l = static_cast<int64_t>(t->as_time()) * 1000;
        } else {
          auto x = as(DataType::plain(TypeKind::BigInt), n, v, path);
          if (!x) return false;
          l = x->as_int64();
        }
        return check(avro_value_set_long(&dest, l), n, path);
      }
      case AVRO_FLOAT:
      case AVRO_DOUBLE: {
        auto d = as(DataType::plain(TypeKind::Double), n, v, path);
        if (!d) return false;
        if (n.type == AVRO_FLOAT) {
          return check(avro_value_set_float(&dest, static_cast<float>(d->as_double())), n, path);
        }
        return check(avro_value_set_double(&dest, d->as_double()), n, path);
      }
      case AVRO_STRING: {
        auto s = as(DataType::plain(TypeKind::String), n, v, path);
        if (!s) return false;
        const std::string& text = s->as_string();
        // avro-c's string sizes count the terminating NUL.
        return check(avro_value_set_string_len(&dest, text.c_str(), text.size() + 1), n, path);
      }
      case AVRO_ENUM: {
        auto s = as(DataType::plain(TypeKind::String), n, v, path);
        if (!s) return false;
        for (size_t i = 0; i < n.symbols.size(); ++i) {
          if (n.symbols[i] == s->as_string()) {
            return check(avro_value_set_enum(&dest, static_cast<int>(i)), n, path);
          }
        }
        return fail(path, excerpt(s->to_string()) + " is not a symbol of Avro enum " + describe(n));
      }
      case AVRO_BYTES:
      case AVRO_FIXED:
        return write_bytes(n, v, dest, path);
      default:
        return mismatch(n, v, path);
    }
  }

  bool write_bytes(const Node& n, const Value& v, avro_value_t& dest, const PathLink& path) {
    std::string bytes;
    if (n.logical == Logical::Decimal) {
      const int precision = std::min(n.precision, Decimal::kMaxPrecision);
      if (n.scale > precision) return mismatch(n, v, path);
      auto d = as(*DataType::decimal(precision, n.scale), n, v, path);
      if (!d) return false;
      bytes = i128_to_twos_complement(d->as_decimal().unscaled());
      if (n.type == AVRO_FIXED) {
        const auto size = static_cast<size_t>(n.fixed_size);
        if (bytes.size() > size) {
          return fail(
              path, "DECIMAL " + d->as_decimal().to_string() + " does not fit Avro " + describe(n));
        }
        const char sign = (bytes[0] & 0x80) ? '\xff' : '\x00';
        bytes.insert(0, size - bytes.size(), sign);
      }
    } else {
      auto b = as(DataType::plain(TypeKind::Bytes), n, v, path);
      if (!b) return false;
      bytes = b->as_bytes();
      if (n.type == AVRO_FIXED && bytes.size() != static_cast<size_t>(n.fixed_size)) {
        return fail(path, std::to_string(bytes.size()) + " bytes for Avro " + describe(n) + " of " +
                              std::to_string(n.fixed_size));
      }
    }
    // A std::string's data() is never null (avro-c refuses to write a null buffer).
    void* data = bytes.data();
    if (n.type == AVRO_FIXED)
      return check(avro_value_set_fixed(&dest, data, bytes.size()), n, path);
    return check(avro_value_set_bytes(&dest, data, bytes.size()), n, path);
  }

  std::string error_;
};

}  // namespace

// --- Public functions ------------------------------------------------------------

Expected<std::vector<Column>> columns_of(std::string_view avro_schema_json) {
  auto tree = parse_schema(avro_schema_json, nullptr);
  if (!tree) return tree.error();
  const Node& root = *tree->root;
  if (root.type != AVRO_RECORD) {
    return Error::fatal("top level: Avro " + describe(root) + " is not a record");
  }
  SqlTypes types;
  return types.columns(root);
}

std::string schema_for(const std::vector<Column>& value_columns) {
  SchemaWriter writer;
  return writer.schema(value_columns).dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

struct Datum::Impl {
  SchemaTree tree;
  CompiledSchema compiled;
  avro_value_iface_t* iface = nullptr;
  avro_value_t value{};
  bool has_value = false;
  avro_reader_t reader = nullptr;
  avro_writer_t writer = nullptr;
  std::vector<Column> columns;  // value columns only
  DataTypePtr row_type;         // STRUCT of the columns
  std::unique_ptr<ReadPlan> plan;
  std::vector<int> field_column;  // per top-level Avro field: its column, or -1

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (reader) avro_reader_free(reader);
    if (writer) avro_writer_free(writer);
    if (has_value) avro_value_decref(&value);
    if (iface) avro_value_iface_decref(iface);
  }
};

Datum::Datum(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Datum::~Datum() = default;

Expected<std::unique_ptr<Datum>> Datum::make(std::string_view writer_schema_json,
                                             std::vector<Column> columns) {
  auto impl = std::make_unique<Impl>();
  auto tree = parse_schema(writer_schema_json, &impl->compiled);
  if (!tree) return tree.error();
  impl->tree = std::move(*tree);
  const Node& root = *impl->tree.root;
  if (root.type != AVRO_RECORD) {
    return Error::fatal("top level: Avro " + describe(root) + " is not a record");
  }
  for (auto& c : columns) {
    if (c.is_key) continue;
    if (!c.type) c.type = DataType::of(TypeKind::Null);
    impl->columns.push_back(std::move(c));
  }
  impl->row_type = DataType::structure_of(impl->columns);
  auto plan = compile_read(root, *impl->row_type, "", 0);
  if (!plan) return plan.error();
  impl->plan = std::move(*plan);

  std::vector<std::string> column_names;
  for (const auto& c : impl->columns) column_names.push_back(c.name);
  for (const auto& field : root.field_names) {
    impl->field_column.push_back(find_field(column_names, field));
  }

  impl->iface = avro_generic_class_from_schema(impl->compiled.schema);
  if (!impl->iface) return Error::fatal("avro-c: " + avro_error_text());
  if (avro_generic_value_new(impl->iface, &impl->value) != 0) {
    return Error::fatal("avro-c: " + avro_error_text());
  }
  impl->has_value = true;
  static const char kNothing[1] = {0};
  impl->reader = avro_reader_memory(kNothing, 0);
  impl->writer = avro_writer_memory(kNothing, 0);
  if (!impl->reader || !impl->writer) return Error::fatal("avro-c: " + avro_error_text());
  return std::unique_ptr<Datum>(new Datum(std::move(impl)));
}

Expected<Value> Datum::decode(std::string_view avro_binary) const {
  Impl& im = *impl_;
  Validator validator(avro_binary);
  if (!validator.datum(*im.tree.root)) return Error::data(validator.error());
  static const char kNothing[1] = {0};
  const char* data = avro_binary.empty() ? kNothing : avro_binary.data();
  avro_reader_memory_set_source(im.reader, data, static_cast<int64_t>(avro_binary.size()));
  if (avro_value_read(im.reader, &im.value) != 0) {
    return Error::data("invalid Avro: " + avro_error_text());
  }
  return read_value(*im.plan, im.value);
}

Expected<std::string> Datum::encode(const Value& row) const {
  Impl& im = *impl_;
  if (row.kind() != TypeKind::Struct) {
    return Error::data(std::string("Avro encode expects a STRUCT of the value columns, got ") +
                       type_kind_name(row.kind()));
  }
  if (avro_value_reset(&im.value) != 0) return Error::data("avro-c: " + avro_error_text());
  const Node& root = *im.tree.root;
  ValueWriter writer;
  static const Value kNull;
  for (size_t i = 0; i < root.children.size(); ++i) {
    avro_value_t child;
    if (avro_value_get_by_index(&im.value, i, &child, nullptr) != 0) {
      return Error::data("avro-c: " + avro_error_text());
    }
    const Node& type = *root.children[i];
    const int column = im.field_column[i];
    const Value* v =
        column >= 0 ? row.field(im.columns[static_cast<size_t>(column)].name) : nullptr;
    if (column < 0 && type.null_branch < 0 && type.type != AVRO_NULL) {
      return Error::data("field " + root.field_names[i] + ": no column for it, and Avro " +
                         describe(type) + " is not nullable");
    }
    if (!writer.write(type, v ? *v : kNull, child, PathLink{nullptr, root.field_names[i]})) {
      return Error::data(writer.error());
    }
  }
  size_t size = 0;
  if (avro_value_sizeof(&im.value, &size) != 0) return Error::data("avro-c: " + avro_error_text());
  std::string out(size, '\0');
  avro_writer_memory_set_dest(im.writer, out.data(), static_cast<int64_t>(out.size()));
  if (avro_value_write(im.writer, &im.value) != 0 ||
      avro_writer_tell(im.writer) != static_cast<int64_t>(size)) {
    return Error::data("avro-c: " + avro_error_text());
  }
  return out;
}

std::string as_record(std::string_view schema_json, const std::string& field, bool* wrapped) {
  auto j = Json::parse(schema_json, nullptr, false);
  const bool record = j.is_discarded() || (j.is_object() && j.value("type", "") == "record");
  if (wrapped) *wrapped = !record;
  if (record) return std::string(schema_json);
  return Json{{"type", "record"}, {"name", "Wrapped"}, {"fields", {{{"name", field}, {"type", j}}}}}
      .dump();
}

namespace {

bool is_named(const Json& j) {
  if (!j.is_object()) return false;
  const std::string type = j.value("type", "");
  return (type == "record" || type == "enum" || type == "fixed") && j.contains("name") &&
         j["name"].is_string();
}

// A named type's full name and its own namespace, given the enclosing one.
std::pair<std::string, std::string> full_name_of(const Json& j, const std::string& enclosing) {
  const std::string name = j["name"].get<std::string>();
  if (name.find('.') != std::string::npos) return {name, name.substr(0, name.rfind('.'))};
  std::string ns = enclosing;
  if (auto it = j.find("namespace"); it != j.end() && it->is_string()) ns = it->get<std::string>();
  return {ns.empty() ? name : ns + "." + name, ns};
}

// Puts each referenced definition (by full name) in place of its first use
// in `j`, within namespace `ns`; `defined`: the full names met so far.
void inline_references(Json& j, const std::string& ns, std::map<std::string, Json>& pending,
                       std::set<std::string>& defined) {
  if (j.is_string()) {
    const std::string ref = j.get<std::string>();
    std::string full = ref;
    if (ref.find('.') == std::string::npos && !ns.empty() && pending.count(ns + "." + ref))
      full = ns + "." + ref;
    auto it = pending.find(full);
    if (it == pending.end() || defined.count(full)) return;
    Json def = std::move(it->second);
    pending.erase(it);
    // Its own namespace, written out, so that it keeps it where it lands.
    const auto [def_full, def_ns] = full_name_of(def, "");
    def["name"] = def_full;
    def.erase("namespace");
    j = std::move(def);
    defined.insert(def_full);
    inline_references(j, def_ns, pending, defined);
    return;
  }
  if (j.is_array()) {
    for (Json& e : j) inline_references(e, ns, pending, defined);
    return;
  }
  if (!j.is_object()) return;
  std::string inner = ns;
  if (is_named(j)) {
    const auto [full, own] = full_name_of(j, ns);
    defined.insert(full);
    inner = own;
  }
  for (const char* key : {"type", "items", "values"})
    if (auto it = j.find(key); it != j.end()) inline_references(*it, inner, pending, defined);
  if (auto fields = j.find("fields"); fields != j.end() && fields->is_array())
    for (Json& f : *fields)
      if (auto t = f.find("type"); f.is_object() && t != f.end())
        inline_references(*t, inner, pending, defined);
}

}  // namespace

Expected<std::string> with_references(
    std::string_view schema_json,
    const std::vector<std::pair<std::string, std::string>>& referenced) {
  if (referenced.empty()) return std::string(schema_json);
  std::map<std::string, Json> pending;
  for (const auto& [name, text] : referenced) {
    auto def = Json::parse(text, nullptr, false);
    if (!is_named(def))
      return Error::fatal("schema reference '" + name +
                          "': not an Avro record, enum or fixed type");
    pending.emplace(full_name_of(def, "").first, std::move(def));
  }
  auto j = Json::parse(schema_json, nullptr, false);
  if (j.is_discarded()) return std::string(schema_json);  // avro-c says what is wrong
  std::set<std::string> defined;
  inline_references(j, "", pending, defined);
  return j.dump();
}

}  // namespace rivulet::avro
