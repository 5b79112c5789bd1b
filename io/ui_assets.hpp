// The status page's files, embedded into the binary at build time (see
// CMakeLists.txt: io/ui/* and Debian's /usr/share/javascript/chart.js/chart.min.js),
// so a job serves its page with no package or network at run time.
#pragma once

#include <cstddef>
#include <string_view>

namespace trib {

struct UiAsset {
  std::string_view name;  // "index.html", "app.js", "style.css", "chart.min.js"
  std::string_view content_type;
  std::string_view bytes;
};

// The asset named `name`, or nullptr.
const UiAsset* find_ui_asset(std::string_view name);

}  // namespace trib
