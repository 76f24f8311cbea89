#include "actors/table_scan.hpp"

#include <cstdint>
#include <optional>

#include "operators/serdes.hpp"

namespace rivulet::actors {

Expected<std::string> encode_table_rows(const KTable& table, size_t max_bytes,
                                        const std::string& what) {
  auto codec = codecs::msgpack()();
  std::string body;
  uint32_t rows = 0;
  std::optional<Error> error;
  // Each pair is encoded as it is read; the array's header (array 32: 0xdd
  // and a big-endian count) goes in front once the count is known.
  (void)table.filter([&](const Value& key, const Value& value) {
    if (error) return false;
    auto pair = codec->encode(Value::array(Array{key, value}));
    if (!pair) {
      error = Error::data("the scan of " + what + " met an unencodable row: " +
                          pair.error().message);
    } else if (body.size() + pair->size() > max_bytes || rows == UINT32_MAX) {
      error = Error::data("the scan of " + what + " exceeds " + std::to_string(max_bytes) +
                          " bytes of rows: ask for one key (WHERE <key column> = <literal>)");
    } else {
      body += *pair;
      ++rows;
    }
    return false;  // nothing copied: the pairs are already encoded
  });
  if (error) return *error;
  std::string out;
  out.reserve(body.size() + 5);
  out.push_back(static_cast<char>(0xdd));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(rows >> shift));
  out += body;
  return out;
}

}  // namespace rivulet::actors
