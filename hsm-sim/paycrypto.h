/*
 * paycrypto: the payment-crypto library of hsm-sim, for hsm-sim itself and
 * for the terminal simulators (PIN blocks, MACs and DUKPT registers built the
 * way real terminals build them). Link the CMake target `paycrypto`.
 */
#ifndef PAYCRYPTO_H
#define PAYCRYPTO_H

#include "pc_card.h"
#include "pc_cipher.h"
#include "pc_dukpt.h"
#include "pc_lmk.h"
#include "pc_mac.h"
#include "pc_pin.h"

#endif
