"""Boards we write a block design for: which part (its family decides the processing system), which board files."""
from __future__ import annotations

from dataclasses import dataclass

from sqzfpga.errors import UserError
from sqzfpga.parts import get_part


DEFAULT_CLOCK_MHZ = 100  # the fabric clock of a build without --board
STORE = ("in Vivado: Tools > Vivado Store > Boards, or in its Tcl console: xhub::refresh_catalog "
         "[xhub::get_xstores xilinx_board_store]; xhub::install [xhub::get_xitems *{name}*]")


@dataclass(frozen=True)
class Board:
    name: str
    part: str  # a name from parts.PARTS
    board_part: str  # Vivado board-file VLNV the flows were written against (the script takes the latest installed)
    clock_mhz: int  # the default fabric clock the block design asks the PS for
    install: str = STORE  # how to install the board files ({name}: the board's Vivado name)

    @property
    def ps(self) -> str:
        """The processing system of the block design: the part's family decides it."""
        return get_part(self.part).family.ps

    @property
    def board_id(self) -> str:
        """The board's name in Vivado's board part (vendor:NAME:part0:version)."""
        return self.board_part.split(":")[1]

    def install_hint(self) -> str:
        return self.install.format(name=self.board_id)


BOARDS = {b.name: b for b in [
    Board("pynq-z1", "xc7z020", "www.digilentinc.com:pynq-z1:part0:1.0", 100,
          "not shipped with Vivado: copy Digilent's pynq-z1 board files (github.com/Digilent/vivado-boards, "
          "new/board_files/pynq-z1) into <Vivado>/data/boards/board_files"),
    Board("pynq-z2", "xc7z020", "tul.com.tw:pynq-z2:part0:1.0", 100,
          "not shipped with Vivado: " + STORE),
    Board("zcu104", "xczu7ev", "xilinx.com:zcu104:part0:1.1", 100),
    Board("zcu102", "xczu9eg", "xilinx.com:zcu102:part0:3.4", 100),
    Board("kv260", "xck26", "xilinx.com:kv260_som:part0:1.4", 100),
]}


def get_board(name: str, part: str | None = None) -> Board:
    """The board called `name`; with `part`, it must carry that part."""
    board = BOARDS.get(name.lower())
    if board is None:
        raise UserError(f"unknown board {name!r}; expected one of {', '.join(BOARDS)}")
    if part is not None and get_part(part).name != board.part:
        other = get_part(part).name
        carriers = ", ".join(b.name for b in BOARDS.values() if b.part == other) or "none known"
        raise UserError(f"--board {board.name} carries the {board.part}, not --part {part}; use --part "
                        f"{board.part} or a board with the {other} ({carriers})")
    return board
