// Decodes a JSON record with Rivulet's codec and prints a field: proof that
// the installed headers, libraries and their dependencies fit together.
#include <iostream>

#include "runtime/codec.hpp"
#include "runtime/value.hpp"

int main() {
  auto codec = rivulet::make_json_codec();
  auto v = codec->decode(R"({"order_id": 42, "amount": 3.5})");
  if (!v) {
    std::cerr << v.error().to_string() << "\n";
    return 1;
  }
  std::cout << "order_id=" << v->field("order_id")->to_string() << "\n";
  return 0;
}
