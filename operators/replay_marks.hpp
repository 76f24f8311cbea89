#pragma once
// Exactly-once state through repartition topics (docs/checkpoints.md,
// "Replays through repartition topics").
//
// A task restored from a checkpoint re-processes its input from the
// checkpoint's offsets and so writes the re-keyed records of that input to
// the repartition topic a second time. The task that reads the repartition
// topic must not apply them twice. Every record written to a repartition
// topic names its origin: `rivulet.input` = "<topic>:<partition>:<offset>"
// of the input record it was made from, and `rivulet.seq` = its rank among
// the outputs of that input record to that topic (0, 1, ...). Per origin
// partition, (offset, seq) grows strictly in the order the upstream task
// writes (OutputSequencer below), and the producer keeps that order per
// partition. So the reading task keeps, per origin partition, the largest
// (offset, seq) it applied (ReplayMarks, a state store saved with every
// checkpoint): a record at or below the mark was applied before, it is a
// replay duplicate and is skipped.
//
// Both classes run on their task's thread only.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "operators/state_store.hpp"
#include "runtime/record.hpp"

namespace rivulet {

// Header of a record written to a repartition topic: its rank among the
// outputs of one input record to that topic (decimal).
inline constexpr const char* kSequenceHeader = "rivulet.seq";

// An origin input partition: topic and partition of `rivulet.input`.
using OriginPartition = std::pair<std::string, int32_t>;
// (offset, seq) of a repartitioned record within its origin partition.
using OriginPosition = std::pair<int64_t, int64_t>;

struct Provenance {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
};

// Parses "<topic>:<partition>:<offset>" (topic names cannot hold ':', the
// last two fields are split off from the right anyway). nullopt when
// malformed or negative.
std::optional<Provenance> parse_provenance(std::string_view text);

// Upstream side, in the sink of a repartition topic: the `rivulet.seq` of
// each output. Outputs of one input record get 0, 1, 2, ... in the order
// they are written. An output whose origin lies before an origin already
// written (an operator that emits out of input order) gets none: it is
// applied downstream without the duplicate check (at-least-once) rather
// than mistaken for a replay and lost.
class OutputSequencer {
 public:
  std::optional<int64_t> next(const SourcePosition& origin);
  // Outputs that got no sequence number (no origin, or out of order).
  uint64_t unsequenced() const { return unsequenced_; }

 private:
  std::map<OriginPartition, OriginPosition> last_;
  uint64_t unsequenced_ = 0;
};

// Downstream side, in the source of a repartition topic: the marks, saved
// and restored with the task's other state.
class ReplayMarks final : public StateStore {
 public:
  enum class Verdict {
    Apply,      // new: the mark moved to it
    Duplicate,  // at or below the mark: applied before, skip it
    Unmarked,   // no (valid) origin or sequence header: applied, not checked
  };

  // `input_topic`: the repartition topic read.
  explicit ReplayMarks(std::string input_topic);

  const std::string& input_topic() const { return topic_; }
  // "rivulet.replay-marks/<repartition topic>": cannot collide with a
  // store the SQL planner or the C++ API names after user identifiers.
  std::string name() const override { return name_; }
  std::string serialize() const override;
  Expected<bool> restore(std::string_view bytes) override;

  Verdict admit(const Headers& headers);

  std::optional<OriginPosition> mark(const std::string& topic, int32_t partition) const;
  size_t size() const { return marks_.size(); }

 private:
  std::string topic_;
  std::string name_;
  std::map<OriginPartition, OriginPosition> marks_;
};

}  // namespace rivulet
