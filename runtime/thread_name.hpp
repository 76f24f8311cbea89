#pragma once
// Names the calling thread, as `top -H`, `ps -L`, perf and /proc show it
// (Linux keeps 15 characters; a longer name is cut). A thread inherits
// its creator's name, so without this every thread Rivulet starts would
// show as the program's name. The names: docs/operations.md, "Threads".
#include <pthread.h>

#include <string>
#include <string_view>

namespace rivulet {

inline void set_thread_name(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace rivulet
