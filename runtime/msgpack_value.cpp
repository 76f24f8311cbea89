#include "runtime/msgpack_value.hpp"

#include <cstring>

#include "runtime/timestamp.hpp"

namespace rivulet {

namespace {

// msgpack ext type codes for what msgpack has no native type for.
enum ExtType : int8_t {
  kExtDecimal = 1,    // 16 bytes unscaled (big-endian two's complement), precision, scale
  kExtTimestamp = 2,  // 8 bytes big-endian millis
  kExtMap = 3,        // a packed msgpack map (Value maps; plain maps are structs)
  kExtInt32 = 4,      // 4 bytes big-endian (plain ints are BIGINT)
  kExtDate = 5,       // 4 bytes big-endian days since the epoch
  kExtTime = 6,       // 4 bytes big-endian milliseconds since midnight
};

// Values nest at most kMaxValueDepth levels where they enter; what reads
// them back here allows more, for the levels its framing adds.
constexpr int kMaxDepth = 256;
static_assert(kMaxDepth >= kMaxValueDepth + 32, "room for framing around the deepest value");

__extension__ using UInt128 = unsigned __int128;

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_be(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// A DOUBLE as msgpack's float 64 (0xcb and 8 bytes big-endian), always.
// msgpack-c's pack_double writes a double with an integral value as an
// integer (3.0 as the fixint 3, -0.0 as 0), which reads back as a BIGINT:
// a DOUBLE column restored from a checkpoint or read from an internal
// topic would change type (and lose the sign of zero). The header and
// body go through pack_bin_body, msgpack-c's way to append raw bytes.
void pack_float64(msgpack::packer<msgpack::sbuffer>& pk, double d) {
  uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  char buf[9];
  buf[0] = static_cast<char>(0xcb);
  for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>((bits >> (8 * (7 - i))) & 0xff);
  pk.pack_bin_body(buf, sizeof buf);
}

void pack_ext(msgpack::packer<msgpack::sbuffer>& pk, int8_t type, const std::string& payload) {
  pk.pack_ext(payload.size(), type);
  pk.pack_ext_body(payload.data(), payload.size());
}

Expected<Value> unpack(const msgpack::object& o, int depth) {
  if (depth > kMaxDepth) return Error::data("msgpack value nested too deeply");
  switch (o.type) {
    case msgpack::type::NIL: return Value();
    case msgpack::type::BOOLEAN: return Value::boolean(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER:
      if (o.via.u64 > static_cast<uint64_t>(INT64_MAX)) {
        return Error::data("msgpack integer out of BIGINT range");
      }
      return Value::int64(static_cast<int64_t>(o.via.u64));
    case msgpack::type::NEGATIVE_INTEGER: return Value::int64(o.via.i64);
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return Value::float64(o.via.f64);
    case msgpack::type::STR: return Value::string(std::string(o.via.str.ptr, o.via.str.size));
    case msgpack::type::BIN: return Value::bytes(std::string(o.via.bin.ptr, o.via.bin.size));
    case msgpack::type::ARRAY: {
      Array items;
      items.reserve(o.via.array.size);
      for (uint32_t i = 0; i < o.via.array.size; ++i) {
        auto v = unpack(o.via.array.ptr[i], depth + 1);
        if (!v) return v.error();
        items.push_back(std::move(*v));
      }
      return Value::array(std::move(items));
    }
    case msgpack::type::MAP: {
      StructFields fields;
      fields.reserve(o.via.map.size);
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const auto& kv = o.via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR) return Error::data("msgpack struct key is not a string");
        auto v = unpack(kv.val, depth + 1);
        if (!v) return v.error();
        fields.push_back(Field{std::string(kv.key.via.str.ptr, kv.key.via.str.size), std::move(*v)});
      }
      return Value::structure(std::move(fields));
    }
    case msgpack::type::EXT: {
      const char* p = o.via.ext.data();
      uint32_t n = o.via.ext.size;
      switch (o.via.ext.type()) {
        case kExtDecimal: {
          if (n != 18) return Error::data("msgpack decimal: bad length");
          Int128 u = static_cast<Int128>((static_cast<UInt128>(get_be(p, 8)) << 64) |
                                         get_be(p + 8, 8));
          int precision = static_cast<unsigned char>(p[16]);
          int scale = static_cast<unsigned char>(p[17]);
          if (precision < 1 || precision > Decimal::kMaxPrecision || scale > precision) {
            return Error::data("msgpack decimal: bad precision or scale");
          }
          return Value::decimal(Decimal(u, precision, scale));
        }
        case kExtTimestamp:
          if (n != 8) return Error::data("msgpack timestamp: bad length");
          return Value::timestamp(static_cast<int64_t>(get_be(p, 8)));
        case kExtInt32:
          if (n != 4) return Error::data("msgpack int: bad length");
          return Value::int32(static_cast<int32_t>(static_cast<uint32_t>(get_be(p, 4))));
        case kExtDate:
          if (n != 4) return Error::data("msgpack date: bad length");
          return Value::date(static_cast<int32_t>(static_cast<uint32_t>(get_be(p, 4))));
        case kExtTime: {
          if (n != 4) return Error::data("msgpack time: bad length");
          const auto ms = static_cast<int32_t>(static_cast<uint32_t>(get_be(p, 4)));
          if (ms < 0 || ms >= kMillisPerDay) return Error::data("msgpack time: out of the day");
          return Value::time(ms);
        }
        case kExtMap: {
          msgpack::object_handle inner;
          try {
            std::size_t off = 0;
            inner = msgpack::unpack(p, n, off, nullptr, nullptr, unpack_limits(n));
            if (off != n) return Error::data("msgpack map: trailing bytes");
          } catch (const std::exception& e) {
            return Error::data(std::string("msgpack map: ") + e.what());
          }
          const auto& m = inner.get();
          if (m.type != msgpack::type::MAP) return Error::data("msgpack map: not a map");
          MapEntries entries;
          for (uint32_t i = 0; i < m.via.map.size; ++i) {
            const auto& kv = m.via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR) return Error::data("msgpack map key is not a string");
            auto v = unpack(kv.val, depth + 1);
            if (!v) return v.error();
            entries.emplace_back(std::string(kv.key.via.str.ptr, kv.key.via.str.size),
                                 std::move(*v));
          }
          return Value::map(std::move(entries));
        }
        default:
          return Error::data("msgpack: unknown ext type " + std::to_string(o.via.ext.type()));
      }
    }
  }
  return Error::data("msgpack: unsupported object type");
}

}  // namespace

void pack_value(msgpack::packer<msgpack::sbuffer>& pk, const Value& v) {
  switch (v.kind()) {
    case TypeKind::Null: pk.pack_nil(); break;
    case TypeKind::Boolean: v.as_bool() ? pk.pack_true() : pk.pack_false(); break;
    case TypeKind::Int: {
      std::string payload;
      put_be(payload, static_cast<uint32_t>(v.as_int32()), 4);
      pack_ext(pk, kExtInt32, payload);
      break;
    }
    case TypeKind::BigInt: pk.pack_int64(v.as_int64()); break;
    case TypeKind::Double: pack_float64(pk, v.as_double()); break;
    case TypeKind::Decimal: {
      const Decimal& d = v.as_decimal();
      auto u = static_cast<UInt128>(d.unscaled());
      std::string payload;
      put_be(payload, static_cast<uint64_t>(u >> 64), 8);
      put_be(payload, static_cast<uint64_t>(u), 8);
      payload.push_back(static_cast<char>(d.precision()));
      payload.push_back(static_cast<char>(d.scale()));
      pack_ext(pk, kExtDecimal, payload);
      break;
    }
    case TypeKind::String: {
      const auto& s = v.as_string();
      pk.pack_str(static_cast<uint32_t>(s.size()));
      pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
      break;
    }
    case TypeKind::Bytes: {
      const auto& s = v.as_bytes();
      pk.pack_bin(static_cast<uint32_t>(s.size()));
      pk.pack_bin_body(s.data(), static_cast<uint32_t>(s.size()));
      break;
    }
    case TypeKind::Timestamp: {
      std::string payload;
      put_be(payload, static_cast<uint64_t>(v.as_timestamp()), 8);
      pack_ext(pk, kExtTimestamp, payload);
      break;
    }
    case TypeKind::Date:
    case TypeKind::Time: {
      std::string payload;
      const int32_t x = v.kind() == TypeKind::Date ? v.as_date() : v.as_time();
      put_be(payload, static_cast<uint32_t>(x), 4);
      pack_ext(pk, v.kind() == TypeKind::Date ? kExtDate : kExtTime, payload);
      break;
    }
    case TypeKind::Array:
      pk.pack_array(static_cast<uint32_t>(v.as_array().size()));
      for (const auto& e : v.as_array()) pack_value(pk, e);
      break;
    case TypeKind::Struct:
      pk.pack_map(static_cast<uint32_t>(v.as_struct().size()));
      for (const auto& f : v.as_struct()) {
        pk.pack_str(static_cast<uint32_t>(f.name.size()));
        pk.pack_str_body(f.name.data(), static_cast<uint32_t>(f.name.size()));
        pack_value(pk, f.value);
      }
      break;
    case TypeKind::Map: {
      msgpack::sbuffer inner;
      msgpack::packer<msgpack::sbuffer> ipk(inner);
      ipk.pack_map(static_cast<uint32_t>(v.as_map().size()));
      for (const auto& [k, e] : v.as_map()) {
        ipk.pack_str(static_cast<uint32_t>(k.size()));
        ipk.pack_str_body(k.data(), static_cast<uint32_t>(k.size()));
        pack_value(ipk, e);
      }
      pack_ext(pk, kExtMap, std::string(inner.data(), inner.size()));
      break;
    }
  }
}

Expected<Value> unpack_value(const msgpack::object& o) { return unpack(o, 0); }

std::string to_msgpack(const Value& v) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pack_value(pk, v);
  return std::string(buf.data(), buf.size());
}

// No container can hold more elements than the buffer has bytes, so a
// forged length cannot make msgpack allocate gigabytes before noticing the
// buffer is short.
msgpack::unpack_limit unpack_limits(size_t bytes) {
  auto n = static_cast<std::size_t>(bytes);
  return msgpack::unpack_limit(n, n, n, n, n, kMaxDepth + 2);
}

Expected<Value> from_msgpack(std::string_view bytes) {
  msgpack::object_handle oh;
  try {
    std::size_t off = 0;
    oh = msgpack::unpack(bytes.data(), bytes.size(), off, nullptr, nullptr,
                         unpack_limits(bytes.size()));
    if (off != bytes.size()) return Error::data("msgpack: trailing bytes after value");
  } catch (const std::exception& e) {
    return Error::data(std::string("msgpack: ") + e.what());
  }
  return unpack_value(oh.get());
}

}  // namespace rivulet
