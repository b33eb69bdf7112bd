// gRPC C++ unary echo, server and closed-loop load generator, for the gRPC row of
// docs/performance.md (tools/grpc-compare/run builds and runs it; not part of the project's
// build). The load side mirrors evrepl-bench: C callers on one channel (one HTTP/2
// connection), each sending its next call when the last one returned, for a bounded time.
//
//   grpc_echo serve HOST:PORT            synchronous service (gRPC's thread pool runs handlers)
//   grpc_echo serve-callback HOST:PORT   callback service (handlers on gRPC's event engine)
//   grpc_echo load HOST:PORT CALLERS SECONDS BYTES   -> one JSON line
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"

namespace
{

using Clock = std::chrono::steady_clock;

class EchoService final : public evrepl::compare::v1::Echo::Service
{
    grpc::Status Call(grpc::ServerContext *, const evrepl::compare::v1::Blob *in,
                      evrepl::compare::v1::Blob *out) override
    {
        out->set_data(in->data());
        return grpc::Status::OK;
    }
};

class EchoCallbackService final : public evrepl::compare::v1::Echo::CallbackService
{
    grpc::ServerUnaryReactor *Call(grpc::CallbackServerContext *ctx,
                                   const evrepl::compare::v1::Blob *in,
                                   evrepl::compare::v1::Blob *out) override
    {
        out->set_data(in->data());
        grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
        r->Finish(grpc::Status::OK);
        return r;
    }
};

int
serve(const std::string &addr, bool callback)
{
    EchoService sync_service;
    EchoCallbackService callback_service;
    grpc::ServerBuilder b;
    b.AddListeningPort(addr, grpc::InsecureServerCredentials());
    if (callback) {
        b.RegisterService(&callback_service);
    } else {
        b.RegisterService(&sync_service);
    }
    std::unique_ptr<grpc::Server> server = b.BuildAndStart();
    if (!server) {
        std::fprintf(stderr, "grpc_echo: cannot listen on %s\n", addr.c_str());
        return 1;
    }
    server->Wait();
    return 0;
}

double
quantile(std::vector<double> &v, double q)
{
    if (v.empty()) {
        return 0;
    }
    size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
}

int
load(const std::string &addr, int callers, double seconds, size_t bytes)
{
    auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
    auto stub = evrepl::compare::v1::Echo::NewStub(channel);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
        std::fprintf(stderr, "grpc_echo: cannot connect to %s\n", addr.c_str());
        return 1;
    }
    evrepl::compare::v1::Blob req;
    req.set_data(std::string(bytes, 'x'));
    std::atomic<bool> stop{false};
    std::atomic<long> errors{0};
    std::vector<std::vector<double>> lat(static_cast<size_t>(callers));
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    for (int i = 0; i < callers; i++) {
        threads.emplace_back([&, i] {
            std::vector<double> &mine = lat[static_cast<size_t>(i)];
            mine.reserve(1 << 20);
            while (!stop.load(std::memory_order_relaxed) && mine.size() < (1u << 24)) {
                grpc::ClientContext ctx;
                ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
                evrepl::compare::v1::Blob rep;
                auto a = Clock::now();
                grpc::Status s = stub->Call(&ctx, req, &rep);
                auto b = Clock::now();
                if (!s.ok() || rep.data().size() != bytes) {
                    errors++;
                    continue;
                }
                mine.push_back(std::chrono::duration<double, std::micro>(b - a).count());
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto &t : threads) {
        t.join();
    }
    double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    for (auto &v : lat) {
        all.insert(all.end(), v.begin(), v.end());
    }
    size_t calls = all.size();
    double p50 = quantile(all, 0.50), p90 = quantile(all, 0.90), p99 = quantile(all, 0.99);
    std::printf("{\"calls\": %zu, \"calls_per_s\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, "
                "\"p99_us\": %.1f, \"errors\": %ld}\n",
                calls, static_cast<double>(calls) / elapsed, p50, p90, p99, errors.load());
    return errors.load() > 0 && calls == 0 ? 1 : 0;
}

} // namespace

int
main(int argc, char **argv)
{
    if (argc == 3 && std::string(argv[1]) == "serve") {
        return serve(argv[2], false);
    }
    if (argc == 3 && std::string(argv[1]) == "serve-callback") {
        return serve(argv[2], true);
    }
    if (argc == 6 && std::string(argv[1]) == "load") {
        int callers = std::atoi(argv[3]);
        double seconds = std::atof(argv[4]);
        long bytes = std::atol(argv[5]);
        if (callers < 1 || callers > 1024 || seconds <= 0 || seconds > 600 || bytes < 0 ||
            bytes > (1 << 20)) {
            std::fprintf(stderr, "grpc_echo: load wants 1-1024 callers, 0-600 s, 0-1 MiB\n");
            return 2;
        }
        return load(argv[2], callers, seconds, static_cast<size_t>(bytes));
    }
    std::fprintf(stderr, "usage: grpc_echo serve|serve-callback HOST:PORT\n"
                         "       grpc_echo load HOST:PORT CALLERS SECONDS BYTES\n");
    return 2;
}
