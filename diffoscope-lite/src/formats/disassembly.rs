//! x86 and x86-64 machine code shown as `objdump --disassemble` shows it:
//! a label line for each function symbol, then one line per instruction
//! with its address, its bytes and its AT&T-syntax text (iced-x86).
//!
//! As a hexdump, one instruction that changed length moves every later
//! byte and the diff is every line after it; as instructions, the diff is
//! the instructions that changed and the call and jump targets that moved,
//! under the name of the function they are in. Every byte is shown (an
//! undecodable byte as `(bad)`), so equal views mean equal bytes; the ELF
//! reader still keeps the bytes' digest, as for its other views. Code
//! sections larger than [`CODE_MAX`] are compared as bytes: their view
//! would be about fifteen times their size.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use iced_x86::{
    Decoder, DecoderOptions, Formatter as _, GasFormatter, Instruction, OpKind, Register,
    SymbolResolver, SymbolResult,
};

use super::dwarf::View;

/// Largest code section disassembled.
pub(crate) const CODE_MAX: u64 = 4 << 20;

/// Function symbols of one section, by address.
pub(crate) type Labels = BTreeMap<u64, Arc<str>>;

/// Names branch targets and memory operands inside the section after the
/// function symbol at or below them (`<main>`, `<main+0x1a>`), as objdump
/// does; immediates and addresses outside the section stay numbers.
struct Names {
    labels: Labels,
    section: std::ops::Range<u64>,
}

impl SymbolResolver for Names {
    fn symbol(
        &mut self,
        instruction: &Instruction,
        operand: u32,
        _instruction_operand: Option<u32>,
        address: u64,
        _address_size: u32,
    ) -> Option<SymbolResult<'_>> {
        // A memory operand names a place only when it is one: relative to
        // the instruction pointer or absolute, not `0x1008(%rbx)`.
        let target = match instruction.op_kind(operand) {
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => true,
            OpKind::Memory => {
                instruction.memory_index() == Register::None
                    && (instruction.is_ip_rel_memory_operand()
                        || instruction.memory_base() == Register::None)
            }
            _ => false,
        };
        if !target || !self.section.contains(&address) {
            return None;
        }
        let (&at, name) = self.labels.range(..=address).next_back()?;
        let text = match address - at {
            0 => format!("{address:#x} <{name}>"),
            off => format!("{address:#x} <{name}+{off:#x}>"),
        };
        Some(SymbolResult::with_string(address, text))
    }
}

/// The disassembly of `code`, loaded at `address`, for a `bitness`-bit
/// processor (16, 32 or 64), with `labels` as function names.
pub(crate) fn render(code: &[u8], address: u64, bitness: u32, labels: Labels) -> String {
    let mut decoder = Decoder::with_ip(bitness, code, address, DecoderOptions::NONE);
    let section = address..address.saturating_add(code.len() as u64);
    let starts: Vec<(u64, Arc<str>)> = labels
        .range(section.clone())
        .map(|(a, n)| (*a, Arc::clone(n)))
        .collect();
    let mut starts = starts.into_iter().peekable();
    let names = Names { labels, section };
    let mut formatter = GasFormatter::with_options(Some(Box::new(names)), None);
    // objdump's spelling: operands after a padded mnemonic, lower-case hex.
    formatter.options_mut().set_first_operand_char_index(7);
    formatter.options_mut().set_uppercase_hex(false);
    formatter
        .options_mut()
        .set_small_hex_numbers_in_decimal(false);
    let mut view = View::default();
    let mut instruction = Instruction::default();
    let (mut text, mut bytes) = (String::new(), String::new());
    while decoder.can_decode() && !view.is_cut() {
        // Where it starts in `code` (the instruction pointer wraps around
        // at the top of the address space; the position does not).
        let start = decoder.position();
        decoder.decode_out(&mut instruction);
        let ip = instruction.ip();
        let end = ip.saturating_add(instruction.len() as u64);
        // A label at or inside this instruction; one inside (code and
        // symbol tables that disagree) is still shown, before it.
        while let Some((_, name)) = starts.next_if(|(at, _)| *at < end) {
            view.line(format_args!("\n{ip:016x} <{name}>:"));
        }
        let raw = code
            .get(start..start.saturating_add(instruction.len()))
            .unwrap_or_default();
        bytes.clear();
        for b in raw {
            let _ = write!(bytes, "{b:02x} ");
        }
        text.clear();
        if instruction.is_invalid() {
            text.push_str("(bad)");
        } else {
            formatter.format(&instruction, &mut text);
        }
        view.line(format_args!("{ip:8x}:  {:<21} {text}", bytes.trim_end()));
        if instruction.len() == 0 {
            // No progress: never expected, but never loop.
            break;
        }
    }
    view.finish()
}

/// The processor bitness of an ELF machine whose code this module reads:
/// `EM_386` (32) and `EM_X86_64` (64, also for x32's 32-bit class).
pub(crate) fn bitness(machine: u16) -> Option<u32> {
    match machine {
        object::elf::EM_386 => Some(32),
        object::elf::EM_X86_64 => Some(64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_read_as_objdump_shows_them() {
        // f: push %rbp; mov %rsp,%rbp; call f; pop %rbp; ret; then a byte
        // that does not decode.
        let code = [
            0x55, 0x48, 0x89, 0xe5, 0xe8, 0xf7, 0xff, 0xff, 0xff, 0x5d, 0xc3, 0x06,
        ];
        let labels = Labels::from([(0x1000, "f".into()), (0x1009, "g".into())]);
        let view = render(&code, 0x1000, 64, labels);
        assert_eq!(
            view,
            "\n\
             0000000000001000 <f>:\n\
             \x20   1000:  55                    push   %rbp\n\
             \x20   1001:  48 89 e5              mov    %rsp,%rbp\n\
             \x20   1004:  e8 f7 ff ff ff        call   0x1000 <f>\n\
             \n\
             0000000000001009 <g>:\n\
             \x20   1009:  5d                    pop    %rbp\n\
             \x20   100a:  c3                    ret\n\
             \x20   100b:  06                    (bad)\n"
        );
    }

    #[test]
    fn targets_inside_a_function_are_named_with_an_offset() {
        // jmp to 0x2002 inside g, which starts at 0x2000; an immediate that
        // looks like an address in it; a load from outside the section.
        let code = [
            0x90, 0x90, 0xeb, 0xfe, 0x48, 0x83, 0xe4, 0xf0, 0xb8, 0x02, 0x20, 0, 0, 0x48, 0x8b,
            0x05, 0x00, 0x10, 0, 0,
        ];
        let labels = Labels::from([(0x2000, "g".into())]);
        let view = render(&code, 0x2000, 64, labels);
        assert!(view.contains("jmp    0x2002 <g+0x2>\n"), "{view}");
        assert!(view.contains("and    $0xfffffffffffffff0,%rsp\n"), "{view}");
        assert!(view.contains("jmp    0x2002 <g+0x2>\n"), "{view}");
        assert!(view.contains("mov    $0x2002,%eax\n"), "{view}");
        assert!(view.contains("mov    0x3014,%rax\n"), "{view}");
        assert_eq!(bitness(object::elf::EM_AARCH64), None);
    }

    #[test]
    fn registers_plus_offsets_stay_numbers() {
        // mov 0x1008(%rbx),%rax inside f at 0x1000: not <f+0x8>.
        let code = [0x48, 0x8b, 0x83, 0x08, 0x10, 0, 0];
        let view = render(&code, 0x1000, 64, Labels::from([(0x1000, "f".into())]));
        assert!(view.ends_with("mov    0x1008(%rbx),%rax\n"), "{view}");
    }

    #[test]
    fn code_at_the_top_of_the_address_space_does_not_overflow() {
        // The instruction pointer wraps past u64::MAX; a label sits there.
        let view = render(&[0x90, 0x90], u64::MAX, 64, Labels::new());
        assert_eq!(view.matches("nop").count(), 2, "{view}");
        let labels = Labels::from([(u64::MAX - 1, "x".into())]);
        let view = render(&[0x90, 0x66, 0x90], u64::MAX - 2, 64, labels);
        assert!(view.contains(" <x>:\n"), "{view}");
    }
}
