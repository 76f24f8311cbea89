#pragma once
// StateStore: what a checkpoint needs from a piece of task state (a KTable,
// an aggregation store, later window stores). Implementations encode with
// msgpack (runtime/msgpack_value.hpp); the checkpoint format wraps the bytes
// with its own header, version and checksum.
//
// Called on the owning task's thread only (a checkpoint is taken between
// two runs of the task), so serialize() sees a quiescent store.
#include <functional>
#include <string>
#include <string_view>

#include "runtime/error.hpp"

namespace rivulet {

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Unique within a TaskGraph; the checkpoint's key for these bytes.
  virtual std::string name() const = 0;
  // The whole content. Also starts a new change set (see below).
  virtual std::string serialize() const = 0;
  // serialize() in two steps, for a snapshot written off the owning thread
  // (checkpoint.write.async): this call, on the owning thread, takes what
  // must see the store as it is now, and starts a new change set as
  // serialize() does; the function it returns does the rest (the encoding)
  // later, once, on any thread, while the store goes on changing, and
  // returns exactly what serialize() would have returned at this call.
  // The default serializes now.
  virtual std::function<std::string()> serialize_deferred() const {
    return [bytes = serialize()]() mutable { return std::move(bytes); };
  }
  // Replaces the whole content with what `bytes` (from serialize()) holds.
  // On error the store is left empty and the error says why.
  virtual Expected<bool> restore(std::string_view bytes) = 0;

  // Incremental snapshots, for stores that support them: with change
  // tracking on, serialize_changes() returns the entries changed since the
  // previous serialize()/serialize_changes() (deleted keys included), and
  // apply_changes() applies such a delta on top of restored content.
  virtual bool supports_incremental() const { return false; }
  virtual void set_change_tracking(bool /*on*/) {}
  virtual std::string serialize_changes() const { return {}; }
  virtual Expected<bool> apply_changes(std::string_view /*bytes*/) {
    return Error::fatal("state store " + name() + " has no incremental snapshots");
  }
};

}  // namespace rivulet
