pub mod example;
pub mod wire;
