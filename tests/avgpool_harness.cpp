// Standalone C simulation of sqz::avgpool (tests/test_avgpool.py): reads frames of raw input
// integers from stdin, prints the raw output integers. config.h (written by the test) defines
// in_t, out_t, OUT_SIGNED, C, FRAME_IN, FRAME_OUT and the layer's config struct `config` (hls/kernel.py).
// Input beats are whole pixels, output beats config::PI channels (the planner's chunk).
#include <cstdio>

#include "config.h"
#include "sqz_avgpool.h"

typedef nnet::array<in_t, C> in_px;
typedef nnet::array<out_t, config::PI> out_px;

int main() {
    long long raw;
    while (std::scanf("%lld", &raw) == 1) {
        hls::stream<in_px> in("in");
        hls::stream<out_px> out("out");
        for (unsigned p = 0; p < FRAME_IN; p++) {
            in_px px;
            for (unsigned ch = 0; ch < C; ch++) {
                if (p || ch)
                    std::scanf("%lld", &raw);
                px[ch].range(in_t::width - 1, 0) = raw;
            }
            in.write(px);
        }
        sqz::avgpool<in_px, out_px, config>(in, out);
        for (unsigned b = 0; b < FRAME_OUT * (C / config::PI); b++) {
            out_px px = out.read();
            for (unsigned ch = 0; ch < config::PI; ch++) {
                ap_int<out_t::width> s;
                ap_uint<out_t::width> u;
                s.range(out_t::width - 1, 0) = px[ch].range(out_t::width - 1, 0);
                u.range(out_t::width - 1, 0) = px[ch].range(out_t::width - 1, 0);
                std::printf("%lld\n", OUT_SIGNED ? (long long)s : (long long)u);
            }
        }
        if (!in.empty() || !out.empty()) {
            std::printf("leftover stream data\n");
            return 1;
        }
    }
    return 0;
}
