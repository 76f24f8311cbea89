#pragma once
// SinkNode: the exit of a DAG into one output topic. Encodes each record's
// key and value with the topic's codecs into an OutputRecord appended to the
// task's output, with the record's headers plus the provenance header
// `rivulet.input` = "<topic>:<partition>:<offset>" of the input record that
// produced it (replacing one the input carried, e.g. from a repartition
// topic). A null key or value is written as null. A value that does not
// encode is a data error; the record is dropped. A sink is terminal: it
// forwards nothing (its records' headers move into the output).
//
// A sink of a repartition topic (`sequenced`) also writes `rivulet.seq`,
// the record's rank among the outputs of its input record
// (operators/replay_marks.hpp), so the task reading the topic can skip
// replay duplicates. Other sinks drop a `rivulet.seq` their input carried.
//
// Owned by a TaskGraph; runs on the task's thread.
#include <memory>
#include <string>

#include "operators/processor.hpp"
#include "operators/replay_marks.hpp"
#include "runtime/codec.hpp"

namespace rivulet {

inline constexpr const char* kProvenanceHeader = "rivulet.input";

class SinkNode final : public Processor {
 public:
  SinkNode(std::string name, std::string topic, std::unique_ptr<Codec> key_codec,
           std::unique_ptr<Codec> value_codec, bool sequenced = false);

  const std::string& topic() const { return topic_; }
  bool sequenced() const { return sequenced_; }
  void process(Batch& batch, ProcessContext& ctx) override;

 private:
  std::string topic_;
  std::unique_ptr<Codec> key_codec_;
  std::unique_ptr<Codec> value_codec_;
  bool sequenced_;
  OutputSequencer sequencer_;
};

}  // namespace rivulet
