#include "worker/services.hpp"

#include "worker/echo.hpp"

namespace corral {

std::unique_ptr<Service> make_service(const ListenConfig& listener) {
    switch (listener.service) {
        case ServiceKind::echo: return std::make_unique<EchoService>();
        case ServiceKind::http: return nullptr;
    }
    return nullptr;
}

}  // namespace corral
