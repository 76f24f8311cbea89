#include "operators/replay_marks.hpp"

#include <charconv>

#include "operators/sink_node.hpp"
#include "runtime/msgpack_value.hpp"

namespace rivulet {

namespace {

template <typename Int>
bool parse_int(std::string_view text, Int& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

const std::optional<std::string>* find_header(const Headers& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

}  // namespace

std::optional<Provenance> parse_provenance(std::string_view text) {
  auto last = text.rfind(':');
  if (last == std::string_view::npos || last == 0) return std::nullopt;
  auto middle = text.rfind(':', last - 1);
  if (middle == std::string_view::npos || middle == 0) return std::nullopt;
  Provenance p;
  p.topic = std::string(text.substr(0, middle));
  if (!parse_int(text.substr(middle + 1, last - middle - 1), p.partition) ||
      !parse_int(text.substr(last + 1), p.offset) || p.partition < 0 || p.offset < 0) {
    return std::nullopt;
  }
  return p;
}

// ---- OutputSequencer ---------------------------------------------------------------

std::optional<int64_t> OutputSequencer::next(const SourcePosition& origin) {
  if (origin.topic.empty() || origin.partition.value() < 0 || origin.offset.value() < 0) {
    ++unsequenced_;
    return std::nullopt;
  }
  const int64_t offset = origin.offset.value();
  auto [it, inserted] = last_.try_emplace(OriginPartition{origin.topic, origin.partition.value()},
                                          OriginPosition{offset, 0});
  if (inserted) return 0;
  OriginPosition& last = it->second;
  if (offset > last.first) {
    last = {offset, 0};
  } else if (offset == last.first) {
    ++last.second;
  } else {
    // Before an origin already written: a number now would sit below the
    // reader's mark and be taken for a duplicate.
    ++unsequenced_;
    return std::nullopt;
  }
  return last.second;
}

// ---- ReplayMarks ----------------------------------------------------------------------

ReplayMarks::ReplayMarks(std::string input_topic)
    : topic_(std::move(input_topic)), name_("rivulet.replay-marks/" + topic_) {}

ReplayMarks::Verdict ReplayMarks::admit(const Headers& headers) {
  const auto* input = find_header(headers, kProvenanceHeader);
  const auto* seq_text = find_header(headers, kSequenceHeader);
  if (input == nullptr || seq_text == nullptr || !*input || !*seq_text) return Verdict::Unmarked;
  auto origin = parse_provenance(**input);
  int64_t seq = -1;
  if (!origin || !parse_int(std::string_view(**seq_text), seq) || seq < 0) {
    return Verdict::Unmarked;
  }
  const OriginPosition position{origin->offset, seq};
  auto [it, inserted] =
      marks_.try_emplace(OriginPartition{std::move(origin->topic), origin->partition}, position);
  if (inserted) return Verdict::Apply;
  if (position <= it->second) return Verdict::Duplicate;
  it->second = position;
  return Verdict::Apply;
}

std::optional<OriginPosition> ReplayMarks::mark(const std::string& topic,
                                                int32_t partition) const {
  auto it = marks_.find(OriginPartition{topic, partition});
  if (it == marks_.end()) return std::nullopt;
  return it->second;
}

// The content: [[origin topic, origin partition, offset, seq], ...].
std::string ReplayMarks::serialize() const {
  Array rows;
  rows.reserve(marks_.size());
  for (const auto& [origin, position] : marks_) {
    rows.push_back(Value::array({Value::string(origin.first), Value::int32(origin.second),
                                 Value::int64(position.first), Value::int64(position.second)}));
  }
  return to_msgpack(Value::array(std::move(rows)));
}

Expected<bool> ReplayMarks::restore(std::string_view bytes) {
  marks_.clear();
  auto decoded = from_msgpack(bytes);
  if (!decoded) return decoded.error();
  auto bad = [&](const std::string& why) -> Expected<bool> {
    marks_.clear();
    return Error::data("replay marks of " + topic_ + ": " + why);
  };
  if (decoded->kind() != TypeKind::Array) return bad("expected an array");
  for (const Value& row : decoded->as_array()) {
    if (row.kind() != TypeKind::Array || row.as_array().size() != 4) {
      return bad("expected [topic, partition, offset, seq] entries");
    }
    const Array& f = row.as_array();
    if (f[0].kind() != TypeKind::String || f[1].kind() != TypeKind::Int ||
        f[2].kind() != TypeKind::BigInt || f[3].kind() != TypeKind::BigInt) {
      return bad("an entry has wrong field types");
    }
    if (!marks_
             .emplace(OriginPartition{f[0].as_string(), f[1].as_int32()},
                      OriginPosition{f[2].as_int64(), f[3].as_int64()})
             .second) {
      return bad("origin " + f[0].as_string() + "[" + std::to_string(f[1].as_int32()) +
                 "] appears twice");
    }
  }
  return true;
}

}  // namespace rivulet
