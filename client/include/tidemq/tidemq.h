// Everything an application needs: #include "tidemq/tidemq.h".
#pragma once

#include "common/status.h"
#include "tidemq/admin.h"
#include "tidemq/message.h"
#include "tidemq/producer.h"
#include "tidemq/push_consumer.h"
#include "tidemq/simple_consumer.h"
