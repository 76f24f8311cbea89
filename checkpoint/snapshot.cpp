#include "checkpoint/snapshot.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <msgpack.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace rivulet::checkpoint {

std::string TaskId::to_string() const {
  return query + "-" + std::to_string(partition.value());
}

bool Snapshot::operator==(const Snapshot& o) const {
  return task == o.task && id == o.id && epoch == o.epoch && stream_time == o.stream_time &&
         created_at == o.created_at && input_offsets == o.input_offsets && sections == o.sections &&
         incremental == o.incremental && base == o.base;
}

void finish_sections(Snapshot& s) {
  for (auto& d : s.deferred) s.sections.at(d.index).second = d.produce();
  s.deferred.clear();
}

namespace {

// The body is one msgpack array with these fields, in this order. A new
// field goes at the end together with a new format version.
enum BodyField : uint32_t {
  kQuery,
  kPartition,
  kId,
  kEpoch,
  kStreamTime,
  kCreatedAt,
  kInputOffsets,  // array of [topic, partition, offset]
  kSections,      // array of [name, bin]
  kIncremental,
  kBase,
  kBodyFieldCount
};

const char* field_name(uint32_t field) {
  static const char* const names[] = {
      "query",      "partition",     "id",       "epoch",       "stream_time",
      "created_at", "input_offsets", "sections", "incremental", "base"};
  return field < kBodyFieldCount ? names[field] : "?";
}

void put_be(std::string& out, std::size_t pos, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out[pos + static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t get_be(std::string_view in, std::size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v = (v << 8) | static_cast<uint8_t>(in[pos + static_cast<std::size_t>(i)]);
  }
  return v;
}

// Lets msgpack's packer append straight into the file image.
struct StringSink {
  std::string& out;
  void write(const char* data, std::size_t size) { out.append(data, size); }
};

// Strings and binaries of the parsed body point into the input instead of
// being copied into the zone: the input outlives the parsed object.
bool reference_everything(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

Error corrupt(const std::string& what) {
  return Error::data("invalid checkpoint: " + what);
}

Expected<int64_t> as_int(const msgpack::object& o, const std::string& where) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return corrupt("body field '" + where + "': integer out of range");
    }
    return static_cast<int64_t>(o.via.u64);
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
  return corrupt("body field '" + where + "': expected an integer");
}

Expected<int32_t> as_int32(const msgpack::object& o, const std::string& where) {
  auto v = as_int(o, where);
  if (!v) return v.error();
  if (*v < std::numeric_limits<int32_t>::min() || *v > std::numeric_limits<int32_t>::max()) {
    return corrupt("body field '" + where + "': partition out of range");
  }
  return static_cast<int32_t>(*v);
}

Expected<std::string> as_bytes(const msgpack::object& o, msgpack::type::object_type type,
                               const std::string& where) {
  if (o.type == type && type == msgpack::type::STR)
    return std::string(o.via.str.ptr, o.via.str.size);
  if (o.type == type && type == msgpack::type::BIN)
    return std::string(o.via.bin.ptr, o.via.bin.size);
  return corrupt("body field '" + where + "': expected " +
                 (type == msgpack::type::STR ? "a string" : "binary data"));
}

Expected<const msgpack::object_array*> as_array(const msgpack::object& o, uint32_t size,
                                                const std::string& where) {
  if (o.type != msgpack::type::ARRAY)
    return corrupt("body field '" + where + "': expected an array");
  if (size != 0 && o.via.array.size != size) {
    return corrupt("body field '" + where + "': expected " + std::to_string(size) +
                   " elements, found " + std::to_string(o.via.array.size));
  }
  return &o.via.array;
}

Expected<Snapshot> parse_body(const msgpack::object& root) {
  if (root.type != msgpack::type::ARRAY) return corrupt("body is not an array");
  // A newer writer of the same version never adds fields (that needs a new
  // version), so a different count means a broken writer.
  if (root.via.array.size != kBodyFieldCount) {
    return corrupt("body has " + std::to_string(root.via.array.size) + " fields, expected " +
                   std::to_string(kBodyFieldCount));
  }
  const msgpack::object* f = root.via.array.ptr;
  Snapshot s;

  auto query = as_bytes(f[kQuery], msgpack::type::STR, field_name(kQuery));
  if (!query) return query.error();
  s.task.query = std::move(*query);
  auto partition = as_int32(f[kPartition], field_name(kPartition));
  if (!partition) return partition.error();
  s.task.partition = PartitionId(*partition);

  auto id = as_int(f[kId], field_name(kId));
  if (!id) return id.error();
  s.id = CheckpointId(*id);
  auto epoch = as_int(f[kEpoch], field_name(kEpoch));
  if (!epoch) return epoch.error();
  s.epoch = Epoch(*epoch);
  auto stream_time = as_int(f[kStreamTime], field_name(kStreamTime));
  if (!stream_time) return stream_time.error();
  s.stream_time = *stream_time;
  auto created_at = as_int(f[kCreatedAt], field_name(kCreatedAt));
  if (!created_at) return created_at.error();
  s.created_at = *created_at;

  auto offsets = as_array(f[kInputOffsets], 0, field_name(kInputOffsets));
  if (!offsets) return offsets.error();
  for (uint32_t i = 0; i < (*offsets)->size; ++i) {
    const std::string where =
        std::string(field_name(kInputOffsets)) + "[" + std::to_string(i) + "]";
    auto entry = as_array((*offsets)->ptr[i], 3, where);
    if (!entry) return entry.error();
    auto topic = as_bytes((*entry)->ptr[0], msgpack::type::STR, where + ".topic");
    if (!topic) return topic.error();
    auto part = as_int32((*entry)->ptr[1], where + ".partition");
    if (!part) return part.error();
    auto offset = as_int((*entry)->ptr[2], where + ".offset");
    if (!offset) return offset.error();
    TopicPartition tp{std::move(*topic), PartitionId(*part)};
    if (!s.input_offsets.emplace(std::move(tp), Offset(*offset)).second) {
      return corrupt("body field '" + where + "': duplicate input partition");
    }
  }

  auto sections = as_array(f[kSections], 0, field_name(kSections));
  if (!sections) return sections.error();
  s.sections.reserve((*sections)->size);
  for (uint32_t i = 0; i < (*sections)->size; ++i) {
    const std::string where = std::string(field_name(kSections)) + "[" + std::to_string(i) + "]";
    auto entry = as_array((*sections)->ptr[i], 2, where);
    if (!entry) return entry.error();
    auto name = as_bytes((*entry)->ptr[0], msgpack::type::STR, where + ".name");
    if (!name) return name.error();
    auto bytes = as_bytes((*entry)->ptr[1], msgpack::type::BIN, where + ".bytes");
    if (!bytes) return bytes.error();
    s.sections.emplace_back(std::move(*name), std::move(*bytes));
  }

  if (f[kIncremental].type != msgpack::type::BOOLEAN) {
    return corrupt("body field 'incremental': expected a boolean");
  }
  s.incremental = f[kIncremental].via.boolean;
  auto base = as_int(f[kBase], field_name(kBase));
  if (!base) return base.error();
  s.base = CheckpointId(*base);
  return s;
}

}  // namespace

Expected<bool> check_encodable(const Snapshot& s) {
  constexpr std::size_t kMax = std::numeric_limits<uint32_t>::max();
  auto too_big = [](const std::string& what) {
    return Error::fatal("checkpoint too large to encode: " + what +
                        " exceeds msgpack's 4 GiB bound");
  };
  if (!s.deferred.empty()) {
    // A caller's mistake, refused rather than written with empty sections.
    return Error::fatal("checkpoint " + std::to_string(s.id.value()) + " of task " +
                        s.task.to_string() + ": " + std::to_string(s.deferred.size()) +
                        " section(s) not serialized yet (finish_sections)");
  }
  if (s.task.query.size() > kMax) return too_big("the query name");
  if (s.input_offsets.size() > kMax) return too_big("the number of input partitions");
  if (s.sections.size() > kMax) return too_big("the number of sections");
  for (const auto& [tp, offset] : s.input_offsets) {
    if (tp.topic.size() > kMax) return too_big("a topic name");
  }
  for (const auto& [name, bytes] : s.sections) {
    if (name.size() > kMax) return too_big("a section name");
    if (bytes.size() > kMax) return too_big("section '" + name.substr(0, 100) + "'");
  }
  return true;
}

std::string encode(const Snapshot& s) {
  std::size_t estimate = kSnapshotHeaderSize + kSnapshotChecksumSize + 256 + s.task.query.size();
  for (const auto& [tp, offset] : s.input_offsets) estimate += tp.topic.size() + 24;
  for (const auto& [name, bytes] : s.sections) estimate += name.size() + bytes.size() + 16;

  std::string out;
  out.reserve(estimate);
  out.append(kSnapshotMagic, sizeof(kSnapshotMagic));
  out.append(kSnapshotHeaderSize - sizeof(kSnapshotMagic), '\0');
  put_be(out, 4, kSnapshotFormatVersion, 2);

  StringSink sink{out};
  msgpack::packer<StringSink> pk(sink);
  pk.pack_array(kBodyFieldCount);
  pk.pack(s.task.query);
  pk.pack(s.task.partition.value());
  pk.pack(s.id.value());
  pk.pack(s.epoch.value());
  pk.pack(s.stream_time);
  pk.pack(s.created_at);
  pk.pack_array(static_cast<uint32_t>(s.input_offsets.size()));
  for (const auto& [tp, offset] : s.input_offsets) {
    pk.pack_array(3);
    pk.pack(tp.topic);
    pk.pack(tp.partition.value());
    pk.pack(offset.value());
  }
  pk.pack_array(static_cast<uint32_t>(s.sections.size()));
  for (const auto& [name, bytes] : s.sections) {
    pk.pack_array(2);
    pk.pack(name);
    pk.pack_bin(static_cast<uint32_t>(bytes.size()));
    pk.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
  }
  pk.pack(s.incremental);
  pk.pack(s.base.value());

  put_be(out, 8, out.size() - kSnapshotHeaderSize, 8);
  const uint64_t checksum = XXH3_64bits(out.data(), out.size());
  const std::size_t at = out.size();
  out.append(kSnapshotChecksumSize, '\0');
  put_be(out, at, checksum, 8);
  return out;
}

Expected<Snapshot> decode(std::string_view bytes) {
  const std::size_t magic_size = sizeof(kSnapshotMagic);
  if (!bytes.empty() &&
      std::memcmp(bytes.data(), kSnapshotMagic, std::min(bytes.size(), magic_size)) != 0) {
    return corrupt("not a Rivulet checkpoint (magic is not \"RVCK\")");
  }
  if (bytes.size() < kSnapshotHeaderSize + kSnapshotChecksumSize) {
    return corrupt("truncated: " + std::to_string(bytes.size()) +
                   " bytes, shorter than header and checksum (" +
                   std::to_string(kSnapshotHeaderSize + kSnapshotChecksumSize) + " bytes)");
  }
  const uint64_t version = get_be(bytes, 4, 2);
  if (version != kSnapshotFormatVersion) {
    return corrupt("unsupported format version " + std::to_string(version) +
                   " (this build reads version " + std::to_string(kSnapshotFormatVersion) + ")");
  }
  if (get_be(bytes, 6, 2) != 0) return corrupt("reserved header bytes are not zero");
  const uint64_t body_size = get_be(bytes, 8, 8);
  const uint64_t available = bytes.size() - kSnapshotHeaderSize - kSnapshotChecksumSize;
  if (body_size > available) {
    // Saturate: a corrupt length may be near 2^64.
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    const uint64_t expected = body_size > max - kSnapshotHeaderSize - kSnapshotChecksumSize
                                  ? max
                                  : body_size + kSnapshotHeaderSize + kSnapshotChecksumSize;
    return corrupt("truncated: header announces " + std::to_string(expected) + " bytes, found " +
                   std::to_string(bytes.size()));
  }
  if (body_size < available) {
    return corrupt(std::to_string(available - body_size) +
                   " unexpected bytes after the checksum (header announces " +
                   std::to_string(body_size + kSnapshotHeaderSize + kSnapshotChecksumSize) +
                   " bytes, found " + std::to_string(bytes.size()) + ")");
  }
  const std::size_t content = kSnapshotHeaderSize + static_cast<std::size_t>(body_size);
  const uint64_t stored = get_be(bytes, content, 8);
  const uint64_t computed = XXH3_64bits(bytes.data(), content);
  if (stored != computed) return corrupt("checksum mismatch: content was modified or damaged");

  // The checksum matched, so the body is what a writer produced; parsing still
  // guards against a writer bug, with limits so that no length inside the body
  // can make the parser allocate more than the body's size.
  const char* body = bytes.data() + kSnapshotHeaderSize;
  const auto n = static_cast<std::size_t>(body_size);
  try {
    std::size_t off = 0;
    msgpack::unpack_limit limit(n, n, n, n, n, 8);
    msgpack::object_handle handle =
        msgpack::unpack(body, n, off, &reference_everything, nullptr, limit);
    if (off != n) {
      return corrupt(std::to_string(n - off) + " bytes left over after the body");
    }
    return parse_body(handle.get());
  } catch (const std::exception& e) {
    return corrupt(std::string("malformed body: ") + e.what());
  }
}

}  // namespace rivulet::checkpoint
