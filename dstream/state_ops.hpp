// DStream updateStateByKey and mapWithState. Included by dstream/dstream.hpp.
#pragma once

#include "dstream/dstream.hpp"

namespace trib {

}  // namespace trib
