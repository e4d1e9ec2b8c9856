// DescriptorShortage.
#include "common/descriptor_shortage.hpp"

#include <cerrno>

#include "common/errno_text.hpp"
#include "common/log.hpp"

namespace corral {

bool DescriptorShortage::is_shortage(int error) {
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

void DescriptorShortage::record(const char* listener, Clock::time_point now) {
    if (last_shortage_ == Clock::time_point{} || now - last_shortage_ > kQuietPeriod) {
        log_warning("accept4() on %s failed: %s; pausing accepting for %lld ms at a time until descriptors are free",
                    listener, errno_text().c_str(), static_cast<long long>(kPause.count()));
    }
    last_shortage_ = now;
    pause_until_ = now + kPause;
}

}  // namespace corral
