#include "worker/services.hpp"

#include "worker/echo.hpp"
#include "worker/http_service.hpp"
#include "worker/module_service.hpp"

namespace corral {

std::unique_ptr<Service> make_service(const ListenConfig& listener) {
    switch (listener.service) {
        case ServiceKind::echo: return std::make_unique<EchoService>();
        case ServiceKind::http: return std::make_unique<HttpService>(listener.http);
        case ServiceKind::module: return std::make_unique<ModuleService>(listener);
    }
    return nullptr;
}

}  // namespace corral
