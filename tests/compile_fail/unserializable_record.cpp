// Must not compile: a stream of records Cereal cannot serialize. The test
// (tests/CMakeLists.txt) expects the library's readable static_assert.
#include "dstream/streaming_context.hpp"

struct Reading {  // no serialize()
  std::string sensor;
  double celsius = 0;
};

int main() {
  trib::StreamingContext ssc(std::chrono::seconds(1));
  auto queue = std::make_shared<trib::BatchQueue<Reading>>();
  ssc.queueStream(queue).print();
}
