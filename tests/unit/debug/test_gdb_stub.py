"""The stub's dispatch over a real machine: the packets gdb sends get QEMU's answers, and
arbitrary packets get a reply (never an exception)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmcore_domain_services.debug import DebugTarget, GdbStub
from vmcore_domain_services.execution import Machine, TieringPolicy
from vmcore_domain_services.riscv.asm import assemble

CODE = 0x8000_0000
# addi a0, zero, 5; addi a1, a0, 1; jal zero, 0 (spin)
PROGRAM = [0x00500513, 0x00150593, 0x0000006F]


def stub() -> GdbStub:
    machine = Machine(1 << 20, console=lambda data: None,
                      tiering=TieringPolicy(hot_threshold=1))
    machine.memory.write_bytes(CODE, assemble(PROGRAM))
    machine.hart.pc = CODE
    return GdbStub(DebugTarget(machine, interval=4))


def test_the_handshake_gdb_13_sends() -> None:
    s = stub()
    supported = s.handle(b"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+")
    assert supported is not None
    assert {b"PacketSize=4000", b"qXfer:features:read+", b"swbreak+", b"hwbreak+",
            b"ReverseStep+", b"ReverseContinue+"} <= set(supported.split(b";"))
    assert b"" == s.handle(b"vMustReplyEmpty")
    assert b"OK" == s.handle(b"Hgp0.0")
    xml = s.handle(b"qXfer:features:read:target.xml:0,ffb")
    assert xml is not None and xml.startswith(b"l<?xml")
    assert b"<architecture>riscv:rv64</architecture>" in xml
    assert b"T05thread:01;" == s.handle(b"?")
    assert b"m01" == s.handle(b"qfThreadInfo")
    assert b"l" == s.handle(b"qsThreadInfo")
    assert b"1" == s.handle(b"qAttached:1")
    assert b"QC01" == s.handle(b"qC")
    registers = s.handle(b"g")
    assert registers is not None and 33 * 16 == len(registers)
    assert (CODE).to_bytes(8, "little").hex().encode() == registers[-16:]


def test_memory_reads_and_unmapped_addresses() -> None:
    s = stub()
    assert b"13055000" == s.handle(b"m80000000,4")
    assert b"E14" == s.handle(b"m0,2")
    assert b"E14" == s.handle(b"mffc,4")
    assert b"E14" == s.handle(b"m10000000,4")  # a device: the debugger never touches one
    assert b"OK" == s.handle(b"M80001000,2:abcd")
    assert b"abcd" == s.handle(b"m80001000,2")
    assert b"OK" == s.handle(b"X80001000,2:}\x03}\x04")
    assert b"2324" == s.handle(b"m80001000,2")


def test_software_single_step_as_gdb_does_it() -> None:
    s = stub()
    assert b"OK" == s.handle(b"Z0,80000004,4")
    assert b"vCont;c;C;s;S" == s.handle(b"vCont?")
    assert s.handle(b"vCont;c:p1.-1") is None
    assert b"T05thread:01;swbreak:;" == s.advance(1000)
    assert b"OK" == s.handle(b"z0,80000004,4")
    assert (0x80000004).to_bytes(8, "little").hex().encode() == s.handle(b"p20")
    assert (5).to_bytes(8, "little").hex().encode() == s.handle(b"pa")
    assert b"T05thread:01;" == s.handle(b"s")
    assert b"T05thread:01;" == s.handle(b"bs")
    assert (0x80000004).to_bytes(8, "little").hex().encode() == s.handle(b"p20")


def test_watchpoints_are_bounded_in_number() -> None:
    s = stub()
    replies = {s.handle(f"Z2,{0x80001000 + 8 * i:x},8".encode()) for i in range(100)}
    assert {b"OK", b"E0e"} == replies
    assert 64 == len(s.target.watches)


def test_hardware_breakpoints_report_hwbreak() -> None:
    s = stub()
    assert b"OK" == s.handle(b"Z1,80000008,4")
    assert s.handle(b"c") is None
    assert b"T05thread:01;hwbreak:;" == s.advance(100)
    assert b"OK" == s.handle(b"z1,80000008,4")
    assert b"" == s.handle(b"Z9,80000008,4")  # an unknown kind: unsupported


def test_ctrl_c_stops_a_running_guest_and_reverse_continue_finds_the_start() -> None:
    s = stub()
    assert s.handle(b"c") is None
    assert s.advance(100) is None  # the guest spins
    assert b"T02thread:01;" == s.interrupt()
    assert b"T05thread:01;replaylog:begin;" == s.handle(b"bc")
    assert (CODE).to_bytes(8, "little").hex().encode() == s.handle(b"p20")


def test_watchpoints_report_their_kind_and_address() -> None:
    machine = Machine(1 << 20, console=lambda data: None)
    # auipc a5, 1 (a5 = 0x80001000); sd a0, 8(a5); ld a1, 8(a5); jal zero, 0
    machine.memory.write_bytes(CODE, assemble([0x00001797, 0x00A7B423, 0x0087B583,
                                               0x0000006F]))
    machine.hart.pc = CODE
    s = GdbStub(DebugTarget(machine))
    assert b"OK" == s.handle(b"Z2,80001008,8")
    assert b"OK" == s.handle(b"Z3,80001008,8")
    s.handle(b"c")
    assert b"T05thread:01;watch:80001008;" == s.advance(100)
    assert b"OK" == s.handle(b"z2,80001008,8")
    s.handle(b"c")
    assert b"T05thread:01;rwatch:80001008;" == s.advance(100)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=64) | st.builds(
    lambda head, rest: head + rest,
    st.sampled_from([b"m", b"M", b"X", b"g", b"G", b"p", b"P", b"Z0,", b"z1,", b"Z2,", b"Z4,",
                     b"qXfer:features:read:target.xml:", b"vCont;", b"b", b"H", b"s"]),
    st.text("0123456789abcdefxyz,:;=-", max_size=40).map(str.encode)))
def test_any_packet_gets_a_reply_never_an_exception(packet: bytes) -> None:
    s = stub()
    reply = s.handle(packet)
    if reply is None and s.killed:
        assert packet.startswith(b"k")
    elif reply is None:  # it resumed the guest: it must still stop cleanly
        assert s.running is not None
        assert s.interrupt() is not None
    else:
        assert isinstance(reply, bytes)


def test_restoring_with_keep_code_keeps_only_blocks_whose_bytes_are_unchanged() -> None:
    machine = Machine(1 << 20, console=lambda data: None,
                      tiering=TieringPolicy(hot_threshold=1))
    machine.memory.write_bytes(CODE, assemble(PROGRAM))
    machine.hart.pc = CODE
    start = machine.capture_state()
    machine.run(50)
    assert 0 < len(machine.cache)
    kept = len(machine.cache)
    machine.restore(start, keep_code=True)
    assert kept == len(machine.cache)  # nothing changed: the translated code stays
    machine.run(50)
    assert 5 == machine.hart.x[10]
    target = DebugTarget(machine)
    target.write_memory(CODE, assemble([0x00700513]))  # addi a0, zero, 7
    machine.hart.pc = CODE
    machine.run(50)
    assert 7 == machine.hart.x[10]
    machine.restore(start, keep_code=True)  # the old bytes again: their block must go
    machine.run(50)
    assert 5 == machine.hart.x[10]


def test_a_removed_breakpoint_puts_back_the_blocks_it_displaced_unless_code_changed() -> None:
    machine = Machine(1 << 20, console=lambda data: None,
                      tiering=TieringPolicy(hot_threshold=1))
    machine.memory.write_bytes(CODE, assemble(PROGRAM))
    machine.hart.pc = CODE
    machine.run(50)
    machine.hart.pc = CODE
    machine.run(50)
    block = machine.cache.lookup(CODE, 0, 3)
    assert block is not None and block.instructions >= 2
    machine.add_breakpoint(CODE + 4)
    assert machine.cache.lookup(CODE, 0, 3) is None
    machine.remove_breakpoint(CODE + 4)
    assert block is machine.cache.lookup(CODE, 0, 3)
    machine.add_breakpoint(CODE + 4)
    machine.memory.write_bytes(CODE, assemble([0x00700513]))  # the code changes meanwhile
    machine.remove_breakpoint(CODE + 4)
    assert machine.cache.lookup(CODE, 0, 3) is None
