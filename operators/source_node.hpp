#pragma once
// SourceNode: the entry of a DAG for one input topic. Decodes a range of
// RawRecords (one partition, consecutive offsets) with the topic's key and
// value codecs into a Batch and pushes it to its children.
//
// A null key or value stays null (a null value is a tombstone for tables).
// A record whose key or value does not decode is reported as a data error
// with topic, partition, offset, the reason and its raw bytes, and is
// skipped; nothing is thrown.
//
// The source of a repartition topic has ReplayMarks: a record at or below
// its origin's mark is a replay duplicate, skipped before decoding and
// counted in TaskOutput::replay_duplicates_skipped (replay_marks.hpp).
//
// Owned by a TaskGraph (which made its codecs); runs on the task's thread.
#include <memory>
#include <string>

#include "operators/processor.hpp"
#include "operators/replay_marks.hpp"
#include "runtime/codec.hpp"

namespace rivulet {

class SourceNode final : public Node {
 public:
  SourceNode(std::string name, std::string topic, std::unique_ptr<Codec> key_codec,
             std::unique_ptr<Codec> value_codec,
             std::shared_ptr<ReplayMarks> replay_marks = nullptr);

  const std::string& topic() const { return topic_; }
  ReplayMarks* replay_marks() const { return marks_.get(); }
  void process(const RawRecord* begin, const RawRecord* end, ProcessContext& ctx);
  // Pushes records that are already decoded (test drivers, benchmarks of
  // the operator path). Their source positions are taken as given.
  void push(Batch& records, ProcessContext& ctx) { forward(records, ctx); }

 private:
  std::string topic_;
  TopicName topic_name_;  // interned: what each record's source carries
  std::unique_ptr<Codec> key_codec_;
  std::unique_ptr<Codec> value_codec_;
  std::shared_ptr<ReplayMarks> marks_;  // repartition topics only
  Batch batch_;  // reused across calls
};

}  // namespace rivulet
