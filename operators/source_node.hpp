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
// Owned by a TaskGraph (which made its codecs); runs on the task's thread.
#include <memory>
#include <string>

#include "operators/processor.hpp"
#include "runtime/codec.hpp"

namespace rivulet {

class SourceNode final : public Node {
 public:
  SourceNode(std::string name, std::string topic, std::unique_ptr<Codec> key_codec,
             std::unique_ptr<Codec> value_codec);

  const std::string& topic() const { return topic_; }
  void process(const RawRecord* begin, const RawRecord* end, ProcessContext& ctx);
  // Pushes records that are already decoded (test drivers, benchmarks of
  // the operator path). Their source positions are taken as given.
  void push(Batch& records, ProcessContext& ctx) { forward(records, ctx); }

 private:
  std::string topic_;
  std::unique_ptr<Codec> key_codec_;
  std::unique_ptr<Codec> value_codec_;
  Batch batch_;  // reused across calls
};

}  // namespace rivulet
