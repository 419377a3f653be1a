// sqzfpga average pooling k x k / s (floor mode, no padding) with exact rounding.
//
// For each output pixel and channel: out = round_half_even(sum * 2^shift / (k*k)), saturated, with
// sum the raw integers of the k x k window and shift = out_frac - in_frac: the integers an ONNX
// AveragePool followed by a QONNX Quant (ROUND) produces, as global_avg computes them for the global
// pool. The window generator is the max pool's (one chunk of one tap per step); only the reduction
// differs: PI sums, and PI pipelined dividers after a chunk's last tap. The RTL twin is
// templates/rtl/sqz_avgpool.sv.
#ifndef SQZ_AVGPOOL_H_
#define SQZ_AVGPOOL_H_

#include "sqz_layers.h"

namespace sqz {

template <class in_T, class res_T, typename CFG> void pool_avg(hls::stream<Step<in_T, CFG::PI> > &in, hls::stream<res_T> &out) {
    typedef ap_int<CFG::sum_width> sum_T;
    sum_T sum[CFG::PI];
    #pragma HLS ARRAY_PARTITION variable = sum complete
    unsigned tap = 0;
Steps:
    for (unsigned i = 0; i < CFG::OH * CFG::OW * CFG::NSTEP; i++) {
        #pragma HLS PIPELINE II = 1
        Step<in_T, CFG::PI> x = in.read();
        res_T o;
        for (unsigned j = 0; j < CFG::PI; j++) {
            #pragma HLS UNROLL
            sum[j] = (tap == 0 ? sum_T(0) : sum[j]) + raw<CFG::sum_width, CFG::in_signed>(x.d[j]);
            o[j] = exact_average<typename res_T::value_type, CFG>(sum[j], CFG::K * CFG::K);
        }
        if (++tap == CFG::K * CFG::K) {
            tap = 0;
            out.write(o);
        }
    }
}

template <class data_T, class res_T, typename CFG> void avgpool(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    #pragma HLS DATAFLOW
    typedef typename data_T::value_type in_T;
    hls::stream<Step<in_T, CFG::PI> > steps("steps");
    window<data_T, in_T, CFG>(data, steps);
    pool_avg<in_T, res_T, CFG>(steps, res);
}

} // namespace sqz

#endif
